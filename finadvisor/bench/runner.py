"""The load generator: a closed-loop sweep over concurrency levels, or open-loop Poisson arrivals.

Closed loop (the seed's experiment, done properly): ``c`` workers each send a request, wait for it, send the next.
Open loop (``request_rate``): arrivals follow a Poisson process at R requests/s regardless of how fast the server
answers, as ``vllm bench serve`` does; the concurrency level then caps requests in flight.

Results accumulate in a ``Sweep`` as they complete, so an interrupted run (Ctrl-C) still has its finished levels
and the requests that completed in the current one.

    python -m finadvisor.cli bench --url http://127.0.0.1:8000 --concurrency 1,5,10,20
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from finadvisor.bench.client import (
    ClientPool,
    Endpoints,
    advisor_request,
    chat_request,
    preflight,
    resolve_endpoints,
    target_path,
)
from finadvisor.bench.stats import RequestResult, summarise
from finadvisor.bench.workload import ChatWorkload, HistoryWorkload
from finadvisor.errors import ConfigError

Send = Callable[[float], Awaitable[RequestResult]]
OnDone = Callable[[RequestResult], None]


@dataclass
class BenchConfig:
    url: str
    concurrency: list[int]
    target: Literal["chat", "advisor"] = "chat"
    model: str | None = None
    requests: int | None = None  # per level; None and no duration = one request per worker (the seed's wave)
    duration_s: float | None = None
    max_tokens: int = 128
    warmup: int = 1
    request_rate: float | None = None
    timeout_s: float = 300.0
    no_cache: bool = False
    unique_prompts: bool = True
    temperature: float | None = 0.0
    seed: int | None = None
    api_key: str | None = field(default=None, repr=False)

    def validate(self) -> None:
        if not self.concurrency or any(c < 1 for c in self.concurrency):
            raise ConfigError("--concurrency needs positive integers, e.g. 1,5,10,20")
        if self.requests is not None and self.duration_s is not None:
            raise ConfigError("pass either --requests or --duration, not both")
        if self.requests is not None and self.requests < 1:
            raise ConfigError("--requests must be at least 1")
        if self.duration_s is not None and self.duration_s <= 0:
            raise ConfigError("--duration must be positive")
        if self.request_rate is not None and self.request_rate <= 0:
            raise ConfigError("--request-rate must be positive (requests per second)")
        if self.timeout_s <= 0:
            raise ConfigError("--timeout must be positive")
        if self.max_tokens < 1:
            raise ConfigError("--max-tokens must be at least 1")

    def public(self) -> dict[str, Any]:
        """The config as recorded in results: never the API key."""
        data = asdict(self)
        data.pop("api_key")
        data["api_key_set"] = bool(self.api_key)
        return data

    def level_requests(self, concurrency: int) -> int | None:
        if self.duration_s is not None:
            return None
        return self.requests if self.requests is not None else concurrency


@dataclass
class Sweep:
    """Finished levels plus the level in progress."""

    config: BenchConfig
    levels: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None
    partial: bool = False
    stopping: bool = False  # set on Ctrl-C/SIGTERM: no new requests are issued, the level in progress ends
    warmup_errors: dict[str, int] = field(default_factory=dict)
    _current: list[RequestResult] = field(default_factory=list)
    _current_level: int | None = None
    _current_t0: float = 0.0

    def close_partial(self) -> None:
        """Summarise whatever the interrupted level finished, and mark the sweep partial."""
        self.partial = True
        if self._current_level is not None and self._current:
            level = summarise(
                self._current,
                concurrency=self._current_level,
                duration_s=time.perf_counter() - self._current_t0,
                request_rate=self.config.request_rate,
            )
            level["partial"] = True
            self.levels.append(level)
        self._current_level = None


def _never() -> bool:
    return False


async def closed_loop(
    send: Send,
    concurrency: int,
    n: int | None,
    duration_s: float | None,
    sink: list[RequestResult],
    on_done: OnDone | None = None,
    stop: Callable[[], bool] = _never,
) -> float:
    t0 = time.perf_counter()
    deadline = t0 + duration_s if duration_s is not None else None
    issued = 0

    async def worker() -> None:
        nonlocal issued
        while (
            (n is None or issued < n) and (deadline is None or time.perf_counter() < deadline) and not stop()
        ):
            issued += 1
            result = await send(t0)
            sink.append(result)
            if on_done:
                on_done(result)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - t0


async def open_loop(
    send: Send,
    rate: float,
    max_in_flight: int,
    n: int | None,
    duration_s: float | None,
    sink: list[RequestResult],
    on_done: OnDone | None = None,
    *,
    seed: int | None = None,
    stop: Callable[[], bool] = _never,
) -> float:
    rng = random.Random(seed)
    gate = asyncio.Semaphore(max_in_flight)
    t0 = time.perf_counter()
    deadline = t0 + duration_s if duration_s is not None else None
    arrival = t0
    tasks: set[asyncio.Task[None]] = set()

    async def one() -> None:
        async with gate:
            if stop():  # queued behind the in-flight limit when the run was stopped: never sent
                return
            result = await send(t0)
        sink.append(result)
        if on_done:
            on_done(result)

    issued = 0
    try:
        while (n is None or issued < n) and not stop():
            arrival += rng.expovariate(rate)
            if deadline is not None and arrival >= deadline:
                break
            delay = arrival - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            issued += 1
        if tasks:
            await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
    return time.perf_counter() - t0


def _sender(
    config: BenchConfig,
    pool: ClientPool,
    endpoints: Endpoints,
    model: str | None,
    workload: ChatWorkload | HistoryWorkload,
) -> Send:
    chat_path, advisor_path = target_path(endpoints.chat), target_path(endpoints.advisor)
    if config.target == "advisor":
        assert isinstance(workload, HistoryWorkload)

        async def send_advisor(t0: float) -> RequestResult:
            conn = await pool.acquire()
            try:
                return await advisor_request(
                    conn,
                    advisor_path,
                    workload.next(),
                    timeout=config.timeout_s,
                    t0=t0,
                    no_cache=config.no_cache,
                )
            finally:
                pool.release(conn)

        return send_advisor

    assert isinstance(workload, ChatWorkload)
    base: dict[str, Any] = {
        "max_tokens": config.max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if model:
        base["model"] = model
    if config.temperature is not None:
        base["temperature"] = config.temperature

    async def send_chat(t0: float) -> RequestResult:
        conn = await pool.acquire()
        try:
            return await chat_request(
                conn, chat_path, {**base, "messages": workload.next()}, timeout=config.timeout_s, t0=t0
            )
        finally:
            pool.release(conn)

    return send_chat


ProgressHook = Callable[[int, int | None], OnDone]  # (concurrency, total or None) -> per-request callback


async def run_sweep(
    config: BenchConfig,
    sweep: Sweep,
    *,
    workload: ChatWorkload | HistoryWorkload,
    progress: ProgressHook | None = None,
) -> Sweep:
    """Warm up, then run each level in order, appending its summary to ``sweep.levels``."""
    config.validate()
    endpoints = resolve_endpoints(config.url)
    async with ClientPool(max(config.concurrency), endpoints.chat, config.api_key) as pool:
        model = config.model
        want_model = config.target == "chat" and model is None
        found = await preflight(
            endpoints, want_model=want_model, api_key=config.api_key, timeout=min(config.timeout_s, 30.0)
        )
        sweep.model = model or found
        send = _sender(config, pool, endpoints, sweep.model, workload)
        if config.warmup:
            warm: list[RequestResult] = []
            await closed_loop(send, min(config.warmup, max(config.concurrency)), config.warmup, None, warm)
            for r in warm:
                if not r.ok:
                    sweep.warmup_errors[r.error or "unknown"] = (
                        sweep.warmup_errors.get(r.error or "unknown", 0) + 1
                    )
            if warm and all(not r.ok for r in warm):
                print(
                    f"warning: all {len(warm)} warm-up requests failed ({warm[0].error}: {warm[0].detail[:160]})",
                    file=sys.stderr,
                )
        for concurrency in config.concurrency:
            if sweep.stopping:
                break
            n = config.level_requests(concurrency)
            sweep._current = []
            sweep._current_level = concurrency
            sweep._current_t0 = time.perf_counter()
            on_done = progress(concurrency, n) if progress else None

            def stopping() -> bool:
                return sweep.stopping

            if config.request_rate is not None:
                wall = await open_loop(
                    send,
                    config.request_rate,
                    concurrency,
                    n,
                    config.duration_s,
                    sweep._current,
                    on_done,
                    seed=config.seed,
                    stop=stopping,
                )
            else:
                wall = await closed_loop(
                    send, concurrency, n, config.duration_s, sweep._current, on_done, stop=stopping
                )
            if sweep.stopping:
                break  # the level is cut short: the caller summarises it as partial (close_partial)
            sweep.levels.append(
                summarise(
                    sweep._current, concurrency=concurrency, duration_s=wall, request_rate=config.request_rate
                )
            )
            sweep._current_level = None
    return sweep


def make_workload(
    config: BenchConfig,
    *,
    conversations: list[list[dict[str, str]]] | None = None,
    prompt: str | None = None,
    histories: list[dict[str, Any]] | None = None,
) -> ChatWorkload | HistoryWorkload:
    if config.target == "advisor":
        return HistoryWorkload(histories, seed=config.seed)
    return ChatWorkload(conversations, prompt=prompt, unique=config.unique_prompts, seed=config.seed or 0)
