"""The seed's "transformers vs vLLM" experiment, in one run: same prompts, same model, each engine in-process.

Engines are built through the registry (``finadvisor.engines.create_engine``) and driven through the Engine
protocol only, so any engine registered later is comparable for free. An engine that cannot be imported or started
is reported as skipped with the reason, not fatal: vLLM is usually absent on CPU machines.

    finadvisor bench engines --engines transformers,llamacpp,vllm --max-tokens 64
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

from finadvisor.bench.stats import distribution
from finadvisor.engines.base import Engine, GenerationRequest

EngineFactory = Callable[[str], Engine]
BASELINE = "transformers"


def settings_factory(model: str | None = None, **overrides: Any) -> EngineFactory:
    """Build engines from project settings (env + these overrides), the way the server does."""

    def build(name: str) -> Engine:
        from finadvisor.engines import ENGINES, create_engine
        from finadvisor.settings import load_settings

        if name not in ENGINES:
            raise LookupError(f"unknown engine {name!r}; known: {', '.join(ENGINES)}")

        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download weights during a benchmark
        return create_engine(load_settings(engine=name, model=model, **overrides))

    return build


async def _one(engine: Engine, messages: list[dict[str, str]], max_tokens: int) -> dict[str, Any]:
    start = time.perf_counter()
    ttft: float | None = None
    pieces = 0
    reported: int | None = None
    text: list[str] = []
    async for delta in engine.stream(
        GenerationRequest(messages=messages, max_tokens=max_tokens, temperature=0.0, seed=0)
    ):
        if delta.text:
            if ttft is None:
                ttft = time.perf_counter() - start
            pieces += 1
            text.append(delta.text)
        if delta.completion_tokens is not None:
            reported = delta.completion_tokens
    e2e = time.perf_counter() - start
    tokens = reported if reported is not None else pieces
    return {"ttft": ttft, "e2e": e2e, "tokens": tokens, "text": "".join(text)}


async def run_engine(
    name: str,
    factory: EngineFactory,
    prompts: list[list[dict[str, str]]],
    *,
    max_tokens: int,
    concurrency: int = 1,
) -> dict[str, Any]:
    """Load, warm up, then time every prompt (``concurrency`` at a time). Never raises for engine failures."""
    row: dict[str, Any] = {"engine": name, "status": "ok", "note": ""}
    try:
        engine = factory(name)
    except Exception as exc:
        return {**row, "status": "skipped", "note": _why(exc)}
    try:
        t = time.perf_counter()
        await engine.start()
        row["load_s"] = time.perf_counter() - t
        await _one(engine, prompts[0], min(8, max_tokens))  # warm-up: first-call allocations, graph capture
        gate = asyncio.Semaphore(concurrency)

        async def gated(messages: list[dict[str, str]]) -> dict[str, Any]:
            async with gate:
                return await _one(engine, messages, max_tokens)

        t = time.perf_counter()
        runs = await asyncio.gather(*(gated(p) for p in prompts))
        wall = time.perf_counter() - t
    except Exception as exc:
        return {**row, "status": "failed", "note": _why(exc)}
    finally:
        try:
            await engine.close()
        except Exception:
            pass
    tokens = sum(r["tokens"] for r in runs)
    decode = [
        (r["tokens"] - 1) / (r["e2e"] - r["ttft"])
        for r in runs
        if r["ttft"] is not None and r["tokens"] > 1 and r["e2e"] > r["ttft"]
    ]
    row.update(
        {
            "requests": len(runs),
            "output_tokens": tokens,
            "wall_s": wall,
            "tokens_per_s": tokens / wall if wall > 0 else None,
            "decode_tokens_per_s": sum(decode) / len(decode) if decode else None,
            "ttft": distribution([r["ttft"] for r in runs if r["ttft"] is not None]),
            "e2e": distribution([r["e2e"] for r in runs]),
            "sample": runs[0]["text"][:200] if runs else "",
        }
    )
    return row


def _why(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:240]


async def compare_engines(
    names: list[str],
    prompts: list[list[dict[str, str]]],
    *,
    max_tokens: int,
    concurrency: int = 1,
    factory: EngineFactory | None = None,
    on_engine: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """One row per engine, in order, each with ``speedup`` over the transformers row (when that one ran)."""
    factory = factory or settings_factory()
    rows = []
    for name in names:
        if on_engine:
            on_engine(name)
        rows.append(await run_engine(name, factory, prompts, max_tokens=max_tokens, concurrency=concurrency))
    add_speedups(rows)
    return rows


def add_speedups(rows: list[dict[str, Any]], baseline: str = BASELINE) -> None:
    base = next((r for r in rows if r["engine"] == baseline and r["status"] == "ok"), None)
    for row in rows:
        row["speedup"] = None
        row["ttft_speedup"] = None
        if base is None or row["status"] != "ok":
            continue
        if base.get("tokens_per_s") and row.get("tokens_per_s"):
            row["speedup"] = row["tokens_per_s"] / base["tokens_per_s"]
        if base["ttft"]["mean"] and row["ttft"]["mean"]:
            row["ttft_speedup"] = base["ttft"]["mean"] / row["ttft"]["mean"]
