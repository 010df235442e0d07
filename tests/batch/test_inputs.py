"""Batch inputs: a folder of <user>.json through the real command, and user IDs fetched from the spending API
with a service key (sent as a bearer token, never written anywhere)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from finadvisor.batch.cli import execute, register
from finadvisor.batch.inputs import ApiSource, FolderSource, error_kind, open_source
from finadvisor.batch.report import EXIT_OK, EXIT_USERS_FAILED
from finadvisor.engines.fake import FakeEngine
from finadvisor.errors import ConfigError, ModelOutputError, UpstreamTimeout
from finadvisor.settings import Settings
from tests.advisor.conftest import good_script
from tests.batch.conftest import history_for, records, write_folder

KEY = "s2s-secret-key-123"
MORNING = dt.datetime(2026, 12, 3, 8, 0)


def test_folder_input_through_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    users = write_folder(tmp_path / "histories", 4)
    (tmp_path / "histories" / "broken.json").write_text("{", encoding="utf-8")
    for name, value in {
        "ENGINE": "fake",
        "EMBEDDER": "hash",
        "CACHE_DIR": str(tmp_path / "c"),
        "INDEX_DIR": str(tmp_path / "i"),
    }.items():
        monkeypatch.setenv(f"FINADVISOR_{name}", value)
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """A group, as in finadvisor's own CLI."""

    register(app)
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        app,
        [
            "batch",
            "--input",
            str(tmp_path / "histories"),
            "--out",
            str(out),
            "--for-time",
            "2026-12-03T08:00",
        ],
    )
    assert result.exit_code == EXIT_USERS_FAILED, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["ok"] == 4 and summary["failures"] == {"validation_failed": 1}
    by_user = {r["user"]: r for r in records(out)}
    assert sorted(by_user) == sorted([*users, "broken"])
    assert "not valid JSON" in by_user["broken"]["error"]["message"]


def _api(calls: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return httpx.Response(401)
        user = request.url.path.split("/")[-2]
        if user == "ghost":
            return httpx.Response(404)
        if user == "flaky":
            return httpx.Response(500, text=f"internal error, key was {KEY}")
        return httpx.Response(200, json={"data": history_for(len(user))})

    return httpx.MockTransport(handle)


def test_api_source_sends_the_service_key_and_never_writes_it(
    batch_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text('an\nbinh\nghost\nflaky\n{"user": "chi"}\nnot a valid id!\n', encoding="utf-8")
    calls: list[httpx.Request] = []
    source = ApiSource(
        ids,
        "http://pfm.test/v1/users/{user}/summary?filter_month={month}",
        service_key=KEY,
        month="2026-12",
        transport=_api(calls),
    )
    out = tmp_path / "out.jsonl"
    code = execute(
        batch_settings,
        source,
        out,
        input_label="ids",
        for_time=MORNING,
        engine=FakeEngine(script=good_script),
    )
    assert code == EXIT_USERS_FAILED
    by_user = {r["user"]: r for r in records(out)}
    assert {u for u, r in by_user.items() if r["status"] == "ok"} == {"an", "binh", "chi"}
    assert by_user["ghost"]["error"]["kind"] == "not_found"
    assert by_user["flaky"]["error"]["kind"] == "upstream_error"
    assert by_user["<line 6>"]["error"]["kind"] == "validation_failed"
    assert {str(c.url) for c in calls} >= {"http://pfm.test/v1/users/an/summary?filter_month=2026-12"}
    assert all("cookie" not in c.headers for c in calls)  # a nightly job has no user's cookie
    assert KEY not in out.read_text(encoding="utf-8")
    assert KEY not in capsys.readouterr().out


def test_api_source_quotes_user_ids_and_reports_a_refused_key(tmp_path: Path) -> None:
    import asyncio

    from finadvisor.batch.inputs import Item
    from finadvisor.errors import AuthError

    calls: list[httpx.Request] = []
    source = ApiSource(
        tmp_path, "https://pfm.test/u/{user}/x", service_key="wrong", month="2026-12", transport=_api(calls)
    )
    assert source.url("a@b.vn") == "https://pfm.test/u/a%40b.vn/x"
    with pytest.raises(AuthError, match="FINADVISOR_SPENDING_SERVICE_KEY") as info:
        asyncio.run(source.load(Item("an")))
    assert "wrong" not in info.value.message


def test_input_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        open_source(tmp_path / "missing.jsonl")
    with pytest.raises(ConfigError, match=r"\{user\}"):
        ApiSource(tmp_path, "http://pfm.test/summary", service_key=None, month="2026-12")
    with pytest.raises(ConfigError, match="file of user IDs"):
        open_source(tmp_path, api_url="http://pfm.test/{user}", month="2026-12")
    assert isinstance(open_source(tmp_path), FolderSource)


def test_error_kinds_are_snake_case_class_names() -> None:
    assert error_kind(ModelOutputError("x")) == "model_output_error"
    assert error_kind(UpstreamTimeout("x")) == "upstream_timeout"
    assert error_kind(RuntimeError("x")) == "internal_error"


def test_folder_and_jsonl_give_the_same_advice(batch_settings: Settings, tmp_path: Path) -> None:
    write_folder(tmp_path / "h", 2)
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text(
        "".join(json.dumps({"user": f"user-{i:02d}", "history": history_for(i)}) + "\n" for i in range(2)),
        encoding="utf-8",
    )
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert (
        execute(
            batch_settings,
            open_source(tmp_path / "h"),
            a,
            input_label="h",
            for_time=MORNING,
            engine=FakeEngine(script=good_script),
        )
        == EXIT_OK
    )
    assert (
        execute(
            batch_settings,
            open_source(jsonl),
            b,
            input_label="j",
            for_time=MORNING,
            engine=FakeEngine(script=good_script),
        )
        == EXIT_OK
    )
    assert {r["user"]: r["response"] for r in records(a)} == {r["user"]: r["response"] for r in records(b)}
