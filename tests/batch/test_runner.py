"""The one-machine batch on the fake engine: records, per-user errors, exit codes, resume, force, bounded work."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from finadvisor.batch.cli import execute, next_morning, parse_for_time, run_local
from finadvisor.batch.inputs import Item, JsonlSource, open_source
from finadvisor.batch.output import ResultLog
from finadvisor.batch.report import EXIT_OK, EXIT_USERS_FAILED
from finadvisor.batch.runner import BatchStats, default_concurrency
from finadvisor.engines.base import Delta, GenerationRequest
from finadvisor.engines.fake import FakeEngine
from finadvisor.errors import ConfigError
from finadvisor.settings import Settings
from tests.advisor.conftest import good_script
from tests.batch.conftest import records, write_users

MORNING = dt.datetime(2026, 12, 3, 8, 0)


def _run(
    settings: Settings,
    src: Path,
    out: Path,
    engine: FakeEngine,
    *,
    force: bool = False,
    for_time: dt.datetime = MORNING,
) -> int:
    return execute(
        settings, open_source(src), out, input_label=str(src), for_time=for_time, force=force, engine=engine
    )


def _last_json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_every_user_gets_one_ok_record_and_a_summary_line(
    batch_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = write_users(tmp_path / "in.jsonl", 12)
    engine = FakeEngine(script=good_script)
    assert _run(batch_settings, tmp_path / "in.jsonl", tmp_path / "out.jsonl", engine) == EXIT_OK
    recs = records(tmp_path / "out.jsonl")
    assert sorted(r["user"] for r in recs) == users
    assert all(r["status"] == "ok" and r["for_time"] == "2026-12-03T08:00:00" for r in recs)
    assert all(2 <= len(r["response"]["recommendations"]) <= 3 and r["timings"]["total"] > 0 for r in recs)
    assert len(engine.calls) == 12  # distinct histories: one generation each
    summary = _last_json(capsys)
    assert summary["bench"] == "batch" and summary["users"] == 12 and summary["ok"] == 12
    assert summary["failed"] == 0 and summary["users_per_s"] > 0 and summary["p99_s"] >= summary["p50_s"]


def _failing_for_user_3(request: GenerationRequest) -> str:
    # user 3 has 33 food transactions; its prompt is the only one holding that figure
    return "this is not JSON" if "33 giao dịch" in request.messages[-1]["content"] else good_script(request)


def test_bad_history_and_model_failure_are_per_user_and_set_the_exit_code(
    batch_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    write_users(src, 6)
    with src.open("a", encoding="utf-8") as fh:
        fh.write('{"user": "neg", "history": {"spending": [{"name": "x", "amount": -5}]}}\n')
        fh.write("{not json\n")
    code = _run(batch_settings, src, tmp_path / "out.jsonl", FakeEngine(script=_failing_for_user_3))
    assert code == EXIT_USERS_FAILED
    by_user = {r["user"]: r for r in records(tmp_path / "out.jsonl")}
    assert len(by_user) == 8
    assert by_user["u003"]["status"] == "error" and by_user["u003"]["error"]["kind"] == "model_output_error"
    assert by_user["neg"]["error"]["kind"] == "validation_failed"
    assert "amount" in by_user["neg"]["error"]["message"]
    assert by_user["<line 8>"]["error"]["kind"] == "validation_failed"
    assert sorted(u for u, r in by_user.items() if r["status"] == "ok") == [
        "u000",
        "u001",
        "u002",
        "u004",
        "u005",
    ]
    out = capsys.readouterr().out
    assert "failures by kind" in out and "model_output_error" in out
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["failures"] == {"model_output_error": 1, "validation_failed": 2} and summary["ok"] == 5


def test_rerun_skips_done_users_retries_failed_ones_and_drops_a_torn_line(
    batch_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    users = write_users(src, 10)
    assert _run(batch_settings, src, out, FakeEngine(script=_failing_for_user_3)) == EXIT_USERS_FAILED
    lines = out.read_bytes().splitlines(keepends=True)
    kept = [ln for ln in lines if b'"u003"' in ln or b'"u000"' in ln or b'"u001"' in ln]
    torn = next(ln for ln in lines if b'"u005"' in ln)[:40]  # a kill in the middle of a write
    out.write_bytes(b"".join(kept) + torn)
    engine = FakeEngine(script=good_script)
    assert _run(batch_settings, src, out, engine) == EXIT_OK
    recs = records(out)
    assert (
        sorted(r["user"] for r in recs) == users
    )  # each exactly once: u003's failure replaced, torn u005 redone
    assert all(r["status"] == "ok" for r in recs)
    assert len(engine.calls) == 8  # u000 and u001 were skipped
    assert out.read_bytes().endswith(b"\n")
    assert _last_json(capsys)["skipped"] == 2


def test_force_recomputes_everyone_into_a_fresh_file(batch_settings: Settings, tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_users(src, 5)
    assert _run(batch_settings, src, out, FakeEngine(script=good_script)) == EXIT_OK
    again = FakeEngine(script=good_script)
    assert _run(batch_settings, src, out, again) == EXIT_OK
    assert again.calls == []  # nothing left to do
    forced = FakeEngine(script=good_script)
    assert _run(batch_settings, src, out, forced, force=True) == EXIT_OK
    assert len(forced.calls) == 5 and len(records(out)) == 5
    assert {r["cache"] for r in records(out)} == {"bypass"}


def test_resuming_a_run_for_another_morning_is_refused(batch_settings: Settings, tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_users(src, 2)
    assert _run(batch_settings, src, out, FakeEngine(script=good_script)) == EXIT_OK
    with pytest.raises(ConfigError, match="--for-time 2026-12-03T08:00:00"):
        _run(
            batch_settings, src, out, FakeEngine(script=good_script), for_time=MORNING + dt.timedelta(days=1)
        )


def test_default_for_time_is_the_coming_morning() -> None:
    assert next_morning(dt.datetime(2026, 12, 3, 1, 30)) == dt.datetime(2026, 12, 3, 8, 0)
    assert next_morning(dt.datetime(2026, 12, 2, 22, 0)) == dt.datetime(2026, 12, 3, 8, 0)
    assert parse_for_time("2026-12-03T08:00") == MORNING
    with pytest.raises(ConfigError, match="ISO 8601"):
        parse_for_time("tomorrow")


class CountingEngine(FakeEngine):
    """Tracks how many generations run at once."""

    def __init__(self) -> None:
        super().__init__(script=good_script, ttft_s=0.03)
        self.active = 0
        self.peak = 0

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            async for delta in super().stream(request):
                yield delta
        finally:
            self.active -= 1


class PullCountingSource(JsonlSource):
    """Records how far ahead of the finished users the producer has read the input."""

    def __init__(self, path: Path, out: ResultLog) -> None:
        super().__init__(path)
        self.pulled = 0
        self.out = out
        self.max_ahead = 0
        self.finished = 0

    def items(self) -> Iterator[Item]:
        for item in super().items():
            self.pulled += 1
            self.max_ahead = max(self.max_ahead, self.pulled - self.finished)
            yield item


def test_all_slots_stay_busy_and_the_input_is_read_with_backpressure(
    batch_settings: Settings, tmp_path: Path
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_users(src, 40)
    engine = CountingEngine()
    with ResultLog(out, for_time=MORNING.isoformat()) as log:
        log.open()
        source = PullCountingSource(src, log)
        stats = BatchStats()

        def progress(record: dict) -> None:
            source.finished += 1

        run_local(
            batch_settings,
            source,
            log,
            for_time=MORNING,
            skip=set(),
            force=False,
            concurrency=None,
            progress=progress,
            engine=engine,
            stats=stats,
        )
    workers = default_concurrency(4, batch_settings.max_waiting)
    assert stats.ok == 40
    assert engine.peak == 4  # every slot of the engine busy, never more than its slots
    # the producer runs at most one queue (= workers) plus the workers' own users ahead of the finished ones
    assert source.max_ahead <= 2 * workers + 1


@pytest.mark.timeout(120)  # a hang guard (a producer blocked on the full queue once hung it), not a timing
def test_stop_flag_loses_only_in_flight_users(batch_settings: Settings, tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_users(src, 30)
    stats = BatchStats()

    def progress(record: dict) -> None:
        if stats.done == 5:
            stats.interrupted = True  # what the SIGINT handler sets (it also cancels the in-flight users)

    with ResultLog(out, for_time=MORNING.isoformat()) as log:
        log.open()
        run_local(
            batch_settings,
            open_source(src),
            log,
            for_time=MORNING,
            skip=set(),
            force=False,
            concurrency=2,
            progress=progress,
            engine=FakeEngine(script=good_script, ttft_s=0.01),
            stats=stats,
        )
    recs = records(out)
    assert 5 <= len(recs) <= 6 and len({r["user"] for r in recs}) == len(
        recs
    )  # the other worker's user, at most


def test_identical_histories_make_one_generation(batch_settings: Settings, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    one = json.loads(write_users(tmp_path / "tmp.jsonl", 1) and (tmp_path / "tmp.jsonl").read_text())[
        "history"
    ]
    src.write_text("".join(json.dumps({"user": f"twin{i}", "history": one}) + "\n" for i in range(6)))
    engine = FakeEngine(script=good_script, ttft_s=0.02)
    assert _run(batch_settings, src, tmp_path / "out.jsonl", engine) == EXIT_OK
    assert len(engine.calls) == 1  # the advisor's single-flight + cache: twins cost one LLM call
    assert len(records(tmp_path / "out.jsonl")) == 6


class BusyThenFreeEngine(FakeEngine):
    """A shared engine that refuses the first requests as full (what the Ray llm deployment's gate does)."""

    def __init__(self, refusals: int) -> None:
        super().__init__(script=good_script)
        self.refusals = refusals

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        from finadvisor.errors import Overloaded

        if self.refusals > 0:
            self.refusals -= 1
            raise Overloaded("busy", retry_after=0.01)
        async for delta in super().stream(request):
            yield delta


def test_a_full_shared_engine_is_waited_for_not_a_failure(batch_settings: Settings, tmp_path: Path) -> None:
    write_users(tmp_path / "in.jsonl", 3)
    engine = BusyThenFreeEngine(refusals=5)
    assert _run(batch_settings, tmp_path / "in.jsonl", tmp_path / "out.jsonl", engine) == EXIT_OK
    assert engine.refusals == 0 and len(records(tmp_path / "out.jsonl")) == 3
