"""The nightly batch on one machine: every user through the advisor, every engine slot busy, nothing unbounded.

    async with standalone_advisor(settings) as advisor:
        stats = await run_batch(advisor, source, result_log, for_time=morning, skip=done)

Shape: one producer reads the input lazily into a bounded queue (``maxsize`` = the number of workers), and N
workers take users from it. The producer blocks when the workers fall behind (backpressure), so memory stays flat
whatever the input size. N is twice the engine's slot count: a worker spends part of each user outside the LLM
(fetching, retrieval, validation, between generations), and the extra workers keep the slots fed meanwhile; they
wait in the LLM gate's bounded queue, which N never overflows. Each finished user is appended to the output at once
(:class:`~finadvisor.batch.output.ResultLog`), so stopping or crashing loses only the users in flight.

The same :func:`process_one` runs inside the Ray actors (``ray_job.py``): one definition of "do one user".
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from finadvisor.advisor.service import Advisor
from finadvisor.batch.inputs import Item, Source, error_kind
from finadvisor.batch.output import ResultLog
from finadvisor.bench.stats import percentile
from finadvisor.errors import EngineUnavailable, Overloaded

MAX_EXAMPLES = 3
OVERLOADED_RETRIES = 30
Progress = Callable[[dict[str, Any]], None]


def default_concurrency(capacity: int, max_waiting: int) -> int:
    """Workers for ``capacity`` engine slots: twice the slots, never more than the LLM gate admits
    (``capacity + max_waiting``; more would be refused with 503s). One user is several generations (a retry, a
    completion request) with non-LLM stages in between; a second user waiting per slot takes a freed slot at once.
    Measured on the default model with 4 slots: 6 workers gave 0.109 users/s, the bench's 8 in flight 0.123
    (docs/DEPLOYING.md)."""
    return max(1, min(2 * capacity, capacity + max_waiting))


async def process_one(
    advisor: Advisor, source: Source, item: Item, *, for_time: datetime, force: bool = False
) -> dict[str, Any]:
    """One user -> one output record. Never raises for a user's problem: it becomes the record's error."""
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    record: dict[str, Any] = {"user": item.user, "for_time": for_time.isoformat(timespec="seconds")}
    try:
        history = await source.load(item)
        timings["load"] = time.perf_counter() - t0
        result = await _recommend(advisor, history, for_time, force)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # one user's failure, of any kind, is that user's record, never the run's
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        record.update(status="error", error={"kind": error_kind(exc), "message": str(message)[:500]})
    else:
        timings.update({k: v for k, v in result.timings.items() if k != "total"})
        record.update(status="ok", response=result.response.model_dump(), cache=result.cache)
    timings["total"] = time.perf_counter() - t0
    record["timings"] = {k: round(v, 4) if isinstance(v, float) else v for k, v in timings.items()}
    return record


async def _recommend(advisor: Advisor, history: Any, for_time: datetime, force: bool) -> Any:
    """A shared LLM that is full (``Overloaded``, e.g. the Ray ``llm`` deployment's gate with many actors) is
    waited for, as its Retry-After says: a busy engine is backpressure, not that user's failure."""
    for attempt in range(OVERLOADED_RETRIES):
        try:
            return await advisor.recommend(history, now=for_time, bypass_cache=force)
        except Overloaded as exc:
            if isinstance(exc, EngineUnavailable) or attempt == OVERLOADED_RETRIES - 1:
                raise
            await asyncio.sleep(min(exc.retry_after or 1.0, 10.0))
    raise AssertionError("unreachable")


@dataclass
class BatchStats:
    """What a run did; :mod:`finadvisor.batch.report` turns it into the table and the last-line JSON."""

    total: int = 0  # users this run set out to do (known once the input is read)
    ok: int = 0
    failed: int = 0
    skipped: int = 0  # done by an earlier run (or repeated in the input)
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    cache: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None
    interrupted: bool = False

    def add(self, record: dict[str, Any]) -> None:
        self.latencies.append(float(record.get("timings", {}).get("total", 0.0)))
        if record["status"] == "ok":
            self.ok += 1
            self.cache[str(record.get("cache"))] += 1
            return
        self.failed += 1
        kind = record["error"]["kind"]
        self.failures[kind] += 1
        examples = self.examples.setdefault(kind, [])
        if len(examples) < MAX_EXAMPLES:
            examples.append({"user": record["user"], "message": record["error"]["message"]})

    @property
    def done(self) -> int:
        return self.ok + self.failed

    @property
    def wall_s(self) -> float:
        return (self.finished or time.perf_counter()) - self.started

    @property
    def users_per_s(self) -> float:
        return self.done / self.wall_s if self.wall_s > 0 else 0.0

    def latency(self, q: float) -> float | None:
        return round(percentile(self.latencies, q), 4) if self.latencies else None


async def run_batch(
    advisor: Advisor,
    source: Source,
    out: ResultLog,
    *,
    for_time: datetime,
    skip: set[str] | None = None,
    force: bool = False,
    concurrency: int | None = None,
    stats: BatchStats | None = None,
    progress: Progress | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> BatchStats:
    """Run every user of ``source`` not in ``skip``; results go to ``out`` as they finish."""
    llm = advisor.llm
    workers = concurrency or default_concurrency(llm.capacity, llm.max_waiting)
    stats = stats or BatchStats()
    seen = set(skip or ())
    stats.total = max(source.count() - len(seen), 0)
    queue: asyncio.Queue[Item | None] = asyncio.Queue(maxsize=workers)

    async def produce() -> None:
        queued = 0
        for item in source.items():
            if stopping():
                break
            if item.user in seen:
                stats.skipped += 1
                continue
            seen.add(item.user)
            queued += 1
            await queue.put(item)  # blocks while every worker is busy and the queue is full
        stats.total = queued
        for _ in range(workers):
            await queue.put(None)

    async def work() -> None:
        # The stop flag is checked before each user, not only left to cancellation: on Python 3.11,
        # asyncio.wait_for (the LLM gate's slot wait) can swallow a cancellation that races a free slot, and a
        # worker that then finished its user must not wait forever on a queue nobody fills any more.
        while not stopping() and (item := await queue.get()) is not None:
            record = await process_one(advisor, source, item, for_time=for_time, force=force)
            out.append(record)
            stats.add(record)
            if progress is not None:
                progress(record)

    try:
        async with (
            asyncio.TaskGroup() as group
        ):  # one failing task (say, an unreadable input) cancels the rest
            producer = group.create_task(produce())
            await asyncio.wait([group.create_task(work()) for _ in range(workers)])
            producer.cancel()  # workers stopped early (stop flag): the producer may be blocked on a full queue
    except ExceptionGroup as group:
        raise group.exceptions[0] from None  # one clear error (e.g. ConfigError), not a group traceback
    finally:
        stats.finished = time.perf_counter()
    return stats
