"""After ``batch --cache redis://…`` the next morning's ``GET /api/recommendations`` of every batched user is a
cache hit, with a real redis-server and the folder history provider (the token is the user ID there).

The cache key holds the weekday and part of day, so the batch computes for ``--for-time`` (the coming morning):
requests that morning hit; a request at noon is a miss (computed on demand), which this test also pins down.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import finadvisor.advisor.routes as routes
from finadvisor.app import create_app
from finadvisor.batch.cli import execute
from finadvisor.batch.inputs import open_source
from finadvisor.batch.report import EXIT_OK
from finadvisor.engines.fake import FakeEngine
from finadvisor.settings import Settings
from tests.advisor.conftest import good_script
from tests.advisor.test_redis_cache import _start_redis
from tests.batch.conftest import records, write_folder
from tests.helpers import free_port, stop_process

pytestmark = pytest.mark.integration
MORNING = dt.datetime(2026, 12, 3, 8, 0)  # a Thursday


@pytest.fixture
def redis_url() -> Iterator[str]:
    port = free_port()
    proc = _start_redis(port)
    yield f"redis://127.0.0.1:{port}/0"
    stop_process(proc, 5)


def _clock(at: dt.datetime) -> type[dt.datetime]:
    class Clock(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Clock:  # type: ignore[override]
            return cls.fromtimestamp(at.timestamp(), tz)

    return Clock


async def _get_all(settings: Settings, users: list[str]) -> tuple[list[str], list[dict], FakeEngine]:
    engine = FakeEngine(script=good_script)
    app = create_app(settings, engine=engine)
    async with app.router.lifespan_context(app):
        await engine.start()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            cookie = settings.token_cookie
            responses = [
                await client.get("/api/recommendations", headers={"Cookie": f"{cookie}={user}"})
                for user in users
            ]
    assert [r.status_code for r in responses] == [200] * len(users), [r.text for r in responses]
    return [r.headers["x-cache"] for r in responses], [r.json() for r in responses], engine


def test_morning_requests_after_the_batch_are_hits(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = write_folder(tmp_path / "histories", 6)
    base = {
        "engine": "fake",
        "embedder": "hash",
        "index_dir": tmp_path / "index",
        "cache_url": redis_url,
        "rate_limit_per_min": 10_000,
    }
    batch_settings = Settings(**base, cache_dir=tmp_path / "batch")  # type: ignore[arg-type]
    out = tmp_path / "out.jsonl"
    code = execute(
        batch_settings,
        open_source(tmp_path / "histories"),
        out,
        input_label="histories",
        for_time=MORNING,
        engine=FakeEngine(script=good_script),
    )
    assert code == EXIT_OK
    batched = {r["user"]: r["response"] for r in records(out)}

    server = Settings(**base, cache_dir=tmp_path / "server", history_dir=tmp_path / "histories")  # type: ignore[arg-type]
    monkeypatch.setattr(routes, "datetime", _clock(MORNING.replace(hour=9, minute=40)))
    caches, bodies, engine = asyncio.run(_get_all(server, users))
    assert caches == ["hit"] * len(users)
    assert engine.calls == []  # the morning cost no LLM call at all
    assert bodies == [batched[u] for u in users]  # and served exactly what the batch computed

    monkeypatch.setattr(routes, "datetime", _clock(MORNING.replace(hour=12, minute=30)))
    caches, _, engine = asyncio.run(_get_all(server, users[:1]))
    assert caches == ["miss"] and len(engine.calls) == 1  # another part of the day: not precomputed
