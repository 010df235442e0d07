"""Issue 25, batch side: any malformed input line is that line's error record and the run goes on; ids are
whole-string matches and error lines get names no id can have; one run per output file (a lock); resuming keeps
ids, not lines, in memory."""

from __future__ import annotations

import datetime as dt
import json
import tracemalloc
from pathlib import Path

import pytest

from finadvisor.batch.cli import execute
from finadvisor.batch.inputs import USER_ID, ApiSource, JsonlSource, check_user, open_source
from finadvisor.batch.output import ResultLog, scan
from finadvisor.batch.report import EXIT_USERS_FAILED
from finadvisor.engines.fake import FakeEngine
from finadvisor.errors import ConfigError, ValidationFailed
from finadvisor.settings import Settings
from tests.advisor.conftest import good_script
from tests.batch.conftest import history_for, records, write_users

MORNING = dt.datetime(2026, 12, 3, 8, 0)
T = "2026-12-03T08:00:00"
HOSTILE_LINES = [
    b'{"user": "big", "history": {"spending": [{"name": "x", "amount": ' + b"9" * 5000 + b"}]}}\n",
    b'{"user": "deep", "history": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
    b'{"user": ' + b"1" * 5000 + b"}\n",
    b"[" * 200_000 + b"\n",
    b'{"user": "bin\xff\xfe", "history": {}}\n',
    b'{"user": ["a"], "history": {}}\n',
    b'{"user": "alice\\n", "history": {"spending": []}}\n',
    b'{"user": "line-3", "history": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"}\n",
]


def test_every_hostile_line_is_its_own_error_record_and_the_run_goes_on(
    batch_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    users = write_users(src, 3)
    with src.open("ab") as fh:
        for line in HOSTILE_LINES:
            fh.write(line)
        fh.write(json.dumps({"user": "last", "history": history_for(9)}).encode() + b"\n")
    out = tmp_path / "out.jsonl"
    code = execute(
        batch_settings,
        open_source(src),
        out,
        input_label=str(src),
        for_time=MORNING,
        engine=FakeEngine(script=good_script),
    )
    assert code == EXIT_USERS_FAILED
    recs = records(out)
    ok = sorted(r["user"] for r in recs if r["status"] == "ok")
    assert ok == sorted([*users, "last"])
    failed = [r for r in recs if r["status"] == "error"]
    assert len(failed) == len(HOSTILE_LINES)  # one record per hostile line, none lost, none crashed the run
    for record in failed:
        assert record["error"]["kind"] == "validation_failed", record
        user = record["user"]
        assert user in {"big", "deep", "line-3"} or not USER_ID.fullmatch(user), (
            user
        )  # never a real user's id


def test_ids_are_whole_string_matches() -> None:
    assert check_user("alice") == "alice"
    for bad in ("alice\n", "alice\r\n", "a b", "", ".hidden", "x" * 129):
        with pytest.raises(ValidationFailed):
            check_user(bad)


def test_api_id_lines_with_huge_ints_or_deep_nesting_are_line_records(tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_bytes(b"ok-user\n" + b'{"user": ' + b"7" * 5000 + b"}\n" + b"{" + b'"a":[' * 100_000 + b"\n")
    source = ApiSource(ids, "http://pfm/{user}", service_key=None, month="2026-11")
    items = list(source.items())
    assert [i.user for i in items] == ["ok-user", "<line 2>", "<line 3>"]
    assert items[1].problem and items[2].problem


def test_a_second_run_on_the_same_output_fails_at_once(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    first = ResultLog(out, for_time=T)
    first.open()
    first.append({"user": "a", "status": "ok", "for_time": T})
    try:
        with pytest.raises(ConfigError, match="another finadvisor batch is writing"):
            ResultLog(out, for_time=T).open()
        with pytest.raises(ConfigError, match="another finadvisor batch is writing"):
            ResultLog(out, for_time=T, force=True).open()
        first.append({"user": "b", "status": "ok", "for_time": T})
    finally:
        first.close()
    assert [r["user"] for r in records(out)] == ["a", "b"]  # the refused runs rewrote nothing
    with ResultLog(out, for_time=T) as again:  # released: the next run resumes
        assert again.open() == {"a", "b"}


def test_resume_holds_ids_not_lines(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    filler = "x" * 2000
    with out.open("w", encoding="utf-8") as fh:
        for i in range(5000):
            fh.write(json.dumps({"user": f"u{i}", "status": "ok", "for_time": T, "response": filler}) + "\n")
        fh.write(json.dumps({"user": "failed", "status": "error", "for_time": T}) + "\n")  # forces a rewrite
    size = out.stat().st_size
    tracemalloc.start()
    try:
        with ResultLog(out, for_time=T) as log:
            done = log.open()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(done) == 5000 and log.resume.retried == 1
    assert out.stat().st_size < size and len(records(out)) == 5000
    assert peak < size / 4, (peak, size)  # the 10 MB of kept lines were streamed, not held
    assert scan(out).done == done


def test_jsonl_item_never_raises() -> None:
    for i, line in enumerate(HOSTILE_LINES, 1):
        item = JsonlSource._item(i, line)
        assert item.problem is not None or item.payload is not None


def test_ray_input_is_read_in_windows_not_all_at_once() -> None:
    from finadvisor.batch.inputs import Item
    from finadvisor.batch.ray_job import _row_windows
    from finadvisor.batch.runner import BatchStats

    pulled = 0

    class Endless:
        name = "jsonl"

        def items(self):  # type: ignore[no-untyped-def]
            nonlocal pulled
            while True:  # a source far larger than the driver's memory
                pulled += 1
                yield Item(f"u{pulled}", payload="{}")

    stats = BatchStats()
    windows = _row_windows(Endless(), {"u2"}, stats, size=100)  # type: ignore[arg-type]
    first = next(windows)
    assert len(first) == 100 and first[0]["user"] == "u1" and stats.skipped == 1
    assert pulled <= 102  # nothing read beyond the window
    assert len(next(windows)) == 100
