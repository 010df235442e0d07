"""Issue 14.1 on the whole app: /health keeps answering (p99 under a quarter of the work's duration) while a
2,048-input /v1/embeddings request AND advisor misses made of 100 never-seen category names run (embedding is off
the event loop and bounded). The hash embedder is pure Python and holds the GIL, the worst case for a thread
pool."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from finadvisor.app import create_app
from finadvisor.engines.fake import FakeEngine
from finadvisor.settings import Settings
from tests.advisor.conftest import good_script
from tests.helpers import started_client


def new_names_history(round_: int) -> dict:
    spending = [
        {
            "name": f"Khoản chi lạ {round_}-{i} phí dịch vụ {i * 7919 % 1000}",
            "amount": 100_000 + i,
            "count": 1,
        }
        for i in range(100)
    ]
    return {
        "history": {"earning": [{"name": "Lương", "amount": 30_000_000, "count": 1}], "spending": spending}
    }


async def test_health_stays_fast_during_embeddings_and_advisor_misses_of_new_names(tmp_path: Path) -> None:
    settings = Settings(
        engine="fake",
        cache_dir=tmp_path / "cache",
        embedder="hash",
        index_dir=tmp_path / "index",
        rate_limit_per_min=0,
        max_body_bytes=4_000_000,
    )
    app = create_app(settings, engine=FakeEngine(script=good_script))
    async for c in started_client(app):
        assert (await c.post("/api/recommendations", json=new_names_history(-1))).status_code == 200  # warm
        texts = [f"giao dịch số {i}: " + "chuyển khoản tiền điện nước internet " * 12 for i in range(2048)]
        payload = json.dumps({"input": texts}).encode()
        jobs = [
            asyncio.create_task(
                c.post("/v1/embeddings", content=payload, headers={"content-type": "application/json"})
            )
        ]
        jobs += [
            asyncio.create_task(c.post("/api/recommendations", json=new_names_history(r))) for r in range(3)
        ]
        latencies: list[float] = []
        work_started = time.perf_counter()
        while not all(job.done() for job in jobs):
            due = time.perf_counter() + 0.01
            await asyncio.sleep(0.01)
            assert (await c.get("/health")).status_code == 200
            latencies.append(time.perf_counter() - due)
        work_s = time.perf_counter() - work_started
        statuses = [(await job).status_code for job in jobs]
        assert statuses == [200, 200, 200, 200], statuses
        assert len(latencies) >= 20, "the work ended too fast to measure anything"
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        # Ratios to the work's own duration, not an absolute threshold (which flakes on a loaded machine): work
        # on the loop makes one probe wait through all of it (max / work ≈ 1). The 100 ms p99 target itself is
        # a measurement, printed here, not asserted.
        print(
            f"/health p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms over {len(latencies)} probes "
            f"during {work_s:.2f} s of work"
        )
        assert p99 < 0.25 * work_s and latencies[-1] < 0.5 * work_s, (p99, latencies[-1], work_s)
