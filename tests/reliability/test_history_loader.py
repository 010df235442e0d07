"""The one history-file loader and the amount parser's hostile inputs (issue 14 item 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from finadvisor.errors import ValidationFailed
from finadvisor.history import SpendingHistory, load_history_file, parse_amount

SEED = {
    "earning": [{"name": "Lương", "amount": 18_000_000, "count": 1}],
    "spending": [{"name": "Ăn uống", "amount": "3.450.000", "count": 42, "icon": "food.png"}],
}


def _write(tmp_path: Path, payload: object, name: str = "h.json") -> Path:
    path = tmp_path / name
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload), encoding="utf-8")
    return path


def test_seed_shape_and_envelope_load_the_same(tmp_path: Path) -> None:
    plain = load_history_file(_write(tmp_path, SEED, "a.json"))
    wrapped = load_history_file(_write(tmp_path, {"history": SEED, "now": "2024-01-01T00:00:00"}, "b.json"))
    assert plain == wrapped
    assert plain.spending[0].amount == 3_450_000
    assert plain.earning[0].name == "Lương"


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("{not json", "is not valid JSON (line 1"),
        ("[1, 2]", "expected a JSON object"),
        ({"history": "x"}, "expected a JSON object"),
        ({"spending": [{"name": "x", "amount": "abc"}]}, "spending.0.amount"),
        ({"spending": [{"name": "x", "amount": 10**400}]}, "spending.0.amount"),
    ],
)
def test_bad_files_name_the_problem(tmp_path: Path, content: object, fragment: str) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(ValidationFailed) as info:
        load_history_file(path)
    assert fragment in info.value.message
    assert str(path) in info.value.message
    assert info.value.status_code == 422


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="cannot read history"):
        load_history_file(tmp_path / "nope.json")
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValidationFailed, match="not UTF-8"):
        load_history_file(binary)


@pytest.mark.parametrize(
    "value", [10**400, -(10**400), "45 000 000 000 000 000", float("inf"), float("nan"), 10**14]
)
def test_hostile_amounts_are_value_errors_not_crashes(value: object) -> None:
    with pytest.raises(ValueError):
        parse_amount(value)
    with pytest.raises(ValidationError):  # a 422 at the API, never an OverflowError 500
        SpendingHistory.model_validate({"spending": [{"name": "x", "amount": value}]})


def test_the_spending_api_envelope_and_a_bom_are_accepted(tmp_path: Path) -> None:
    from finadvisor.history import load_history_file

    path = tmp_path / "api.json"
    body = {"data": {"earning": [], "spending": [{"name": "Ăn uống", "amount": 1000, "count": 1}]}}
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(body, ensure_ascii=False).encode())
    assert [c.name for c in load_history_file(path).spending] == ["Ăn uống"]
