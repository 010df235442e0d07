"""The shared Redis cache with a real redis-server: cross-replica hits, cross-replica single-flight, outages."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from finadvisor.app import create_app
from finadvisor.engines.fake import FakeEngine
from finadvisor.settings import Settings
from tests.advisor.conftest import HISTORY, good_script
from tests.helpers import free_port, require_binary

pytestmark = pytest.mark.integration
API = "/api/recommendations"


def _start_redis(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            require_binary("redis-server"),
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--bind",
            "127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            import socket

            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


@pytest.fixture
def redis_port() -> Iterator[int]:
    port = free_port()
    proc = _start_redis(port)
    yield port
    proc.terminate()
    proc.wait(5)


class Replica:
    def __init__(self, tmp: Path, port: int, name: str, ttft: float = 0.0) -> None:
        self.engine = FakeEngine(script=good_script, ttft_s=ttft)
        settings = Settings(
            engine="fake",
            cache_dir=tmp / name,
            embedder="hash",
            index_dir=tmp / "index",
            cache_url=f"redis://127.0.0.1:{port}/0",
            rate_limit_per_min=1000,
        )
        self.app = create_app(settings, engine=self.engine)

    async def __aenter__(self) -> httpx.AsyncClient:
        self._ctx = self.app.router.lifespan_context(self.app)
        await self._ctx.__aenter__()
        await self.engine.start()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://r")
        return self.client

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()
        await self._ctx.__aexit__(None, None, None)


async def test_second_replica_serves_first_replicas_result(tmp_path: Path, redis_port: int) -> None:
    a, b = Replica(tmp_path, redis_port, "a"), Replica(tmp_path, redis_port, "b")
    async with a as ca, b as cb:
        first = await ca.post(API, json={"history": HISTORY})
        second = await cb.post(API, json={"history": HISTORY})
        assert first.headers["x-cache"] == "miss" and second.headers["x-cache"] == "hit"
        assert first.json() == second.json()
        assert len(a.engine.calls) + len(b.engine.calls) == 1


async def test_concurrent_misses_across_replicas_make_one_llm_call(tmp_path: Path, redis_port: int) -> None:
    a, b = Replica(tmp_path, redis_port, "a", ttft=0.4), Replica(tmp_path, redis_port, "b", ttft=0.4)
    async with a as ca, b as cb:
        rs = await asyncio.gather(*[c.post(API, json={"history": HISTORY}) for c in (ca, cb, ca, cb)])
        assert all(r.status_code == 200 for r in rs)
        assert len(a.engine.calls) + len(b.engine.calls) == 1


async def test_redis_outage_degrades_to_pass_through_and_recovers(tmp_path: Path) -> None:
    port = free_port()
    proc = _start_redis(port)
    a = Replica(tmp_path, port, "a")
    async with a as ca:
        assert (await ca.post(API, json={"history": HISTORY})).headers["x-cache"] == "miss"
        proc.terminate()
        proc.wait(5)
        down = await ca.post(API, json={"history": HISTORY})  # Redis gone: still answered, from the LLM
        assert down.status_code == 200 and down.headers["x-cache"] == "miss"
        proc = _start_redis(port)  # comes back (empty)
        try:
            again = await ca.post(API, json={"history": HISTORY})
            assert again.status_code == 200
            hit = await ca.post(API, json={"history": HISTORY})
            assert hit.headers["x-cache"] == "hit"
        finally:
            proc.terminate()
            proc.wait(5)
