"""``finadvisor batch --ray ADDRESS``: the same job as a Ray Data pipeline, for a cluster.

    users (driver: input read lazily, done users dropped, WINDOW_ROWS at a time) -> ray.data.from_items
      -> map_batches(AdvisorActor, an actor pool of N; async: several batches in flight per actor)
      -> iter_rows on the driver -> the same append+fsync output file (output.py)

Ray Data does all the scheduling, the streaming and the backpressure (its executor bounds the rows in flight and
each async actor runs a few batches at once); there is no scheduler of our own. Each actor builds one advisor
(catalog index + cache, e.g. the shared Redis) and runs the same ``process_one`` as the one-machine batch. The LLM
is either an upstream OpenAI-compatible server (vLLM: ``--upstream``), or the shared ``llm`` Serve deployment of
``finadvisor/deploy/ray_app.py`` reached through ``RayHandleEngine``: the one of a running application
(``--ray-llm-app finadvisor``), or, without either, one this job deploys for itself and deletes at the end.
Results stream back to the driver, which writes each one as it arrives, so a crash loses only rows in flight.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from finadvisor.batch.inputs import ApiSource, Item, Source
from finadvisor.batch.output import ResultLog
from finadvisor.batch.runner import BatchStats, process_one
from finadvisor.engines import runs_in_own_server
from finadvisor.settings import Settings

JOB_LLM_APP = "finadvisor-batch-llm"
ACTOR_CPUS = 0.25  # the actors wait on the LLM most of the time; the LLM deployment holds the real CPU/GPU


class AdvisorActor:
    """A Ray Data callable class: one advisor per actor, built lazily on the actor's own event loop."""

    def __init__(
        self,
        settings: dict[str, Any],
        for_time: str,
        force: bool,
        llm_app: str | None,
        api: dict[str, Any] | None,
        concurrency: int,
    ) -> None:
        self.settings = Settings(**settings)
        self.for_time = dt.datetime.fromisoformat(for_time)
        self.force = force
        self.llm_app = llm_app
        self.api = api
        self.concurrency = concurrency
        self._advisor: Any = None
        self._source: Source | None = None
        self._lock: asyncio.Lock | None = None

    async def _ready(self) -> tuple[Any, Source]:
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if self._advisor is None:
                self._advisor, self._source = await self._build()
        assert self._source is not None
        return self._advisor, self._source

    async def _build(self) -> tuple[Any, Source]:
        from finadvisor.advisor.build import build_advisor
        from finadvisor.engines import create_engine
        from finadvisor.engines.service import LLMService
        from finadvisor.metrics import Metrics

        if self.llm_app:
            from ray import serve

            from finadvisor.deploy.ray_app import RayHandleEngine

            engine: Any = RayHandleEngine(serve.get_deployment_handle("llm", app_name=self.llm_app))
        else:
            engine = create_engine(self.settings)  # engine=openai: the upstream (vLLM) URL
        await engine.start()
        metrics = Metrics()
        # The gate admits what this actor has in flight; the shared LLM (or vLLM) queues across actors itself.
        llm = LLMService(
            engine,
            metrics,
            model_name=self.settings.model_name,
            capacity=self.concurrency,
            max_waiting=self.concurrency,
            timeout_s=self.settings.request_timeout_s,
        )
        advisor = await build_advisor(self.settings, llm, metrics=metrics)
        source: Source = _RowSource() if self.api is None else ApiSource(**self.api)
        return advisor, source

    async def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        advisor, source = await self._ready()
        items = [
            Item(str(u), None if p is None or p == "" else str(p), None if q is None or q == "" else str(q))
            for u, p, q in zip(batch["user"], batch["payload"], batch["problem"], strict=True)
        ]
        records = await asyncio.gather(
            *(process_one(advisor, source, item, for_time=self.for_time, force=self.force) for item in items)
        )
        return {"record": np.array([json.dumps(r, ensure_ascii=False) for r in records], dtype=object)}


class _RowSource:
    """Histories that travel in the rows themselves (JSONL and folder inputs: read by the driver)."""

    name = "rows"

    def items(self) -> Any:
        return iter(())

    def count(self) -> int:
        return 0

    async def load(self, item: Item) -> Any:
        from finadvisor.batch.inputs import load_payload

        return load_payload(item)

    async def close(self) -> None:
        return None


WINDOW_ROWS = 8192  # rows the driver holds at once (~20 MB of histories); one Ray Data pipeline per window


def _row_windows(
    source: Source, skip: set[str], stats: BatchStats, size: int = WINDOW_ROWS
) -> Iterator[list[dict[str, str]]]:
    """The users to do, as rows, ``size`` at a time: the input is read lazily, so a million-user file is never
    all on the driver (only the ids seen so far are). Folder inputs are read here so every row carries its
    history's JSON."""
    from pathlib import Path

    rows: list[dict[str, str]] = []
    seen = set(skip)
    for item in source.items():
        if item.user in seen:
            stats.skipped += 1
            continue
        seen.add(item.user)
        payload, problem = item.payload, item.problem
        if source.name == "folder" and payload is not None and problem is None:
            path = Path(payload)
            try:
                payload = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                payload, problem = None, f"{path.name}: unreadable ({type(exc).__name__})"
        rows.append({"user": item.user, "payload": payload or "", "problem": problem or ""})
        if len(rows) >= size:
            yield rows
            rows = []
    if rows:
        yield rows


def _llm_app(settings: Settings, llm_app: str | None) -> tuple[str | None, bool]:
    """Which Serve app's ``llm`` deployment the actors call (and whether this job deployed it)."""
    if llm_app or runs_in_own_server(settings):
        return llm_app, False
    from ray import serve

    from finadvisor.deploy.ray_app import LLMDeployment

    llm = LLMDeployment.options(ray_actor_options={"num_cpus": 1})  # type: ignore[attr-defined]
    serve.run(llm.bind(settings.model_dump(mode="json")), name=JOB_LLM_APP, route_prefix=None)
    return JOB_LLM_APP, True


def run_ray(
    address: str,
    settings: Settings,
    source: Source,
    out: ResultLog,
    *,
    for_time: dt.datetime,
    skip: set[str],
    force: bool,
    stats: BatchStats,
    progress: Callable[[dict[str, Any]], None] | None = None,
    actors: int = 2,
    batch_size: int = 4,
    llm_app: str | None = None,
    service_key: str | None = None,
) -> BatchStats:
    """Run the batch on the Ray cluster at ``address`` ('auto', 'local' or ray://…); results go to ``out``."""
    import ray

    if not ray.is_initialized():
        ray.init(address=None if address == "local" else address, log_to_driver=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # the batch's own bar counts users; Ray's would count blocks
    from finadvisor.advisor.build import make_embedder, open_index

    open_index(
        settings, make_embedder(settings)
    )  # built once here; the actors (same machine or shared disk) open it
    stats.total = max(source.count() - len(skip), 0)
    api = None
    if isinstance(source, ApiSource):
        api = {
            "ids": source.ids,
            "url_template": source.url_template,
            "service_key": service_key,
            "month": source.month,
            "timeout_s": source.timeout_s,
        }
    app, deployed = _llm_app(settings, llm_app)
    stats.started = time.perf_counter()
    try:
        for rows in _row_windows(source, skip, stats):
            ds = ray.data.from_items(rows).map_batches(
                AdvisorActor,
                batch_size=batch_size,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=actors),
                num_cpus=ACTOR_CPUS,
                fn_constructor_kwargs={
                    "settings": settings.model_dump(mode="json"),
                    "for_time": for_time.isoformat(),
                    "force": force,
                    "llm_app": app,
                    "api": api,
                    "concurrency": batch_size * 4,
                },
            )
            for row in ds.iter_rows():
                record = json.loads(row["record"])
                out.append(record)
                stats.add(record)
                if progress is not None:
                    progress(record)
        stats.total = stats.done  # the estimate above counted repeated ids; now the exact number
    except KeyboardInterrupt:
        stats.interrupted = True
    finally:
        stats.finished = time.perf_counter()
        asyncio.run(source.close())
        if deployed:
            from ray import serve

            serve.delete(JOB_LLM_APP)
    return stats
