"""An engine that is not available yet (an upstream still coming up) is retried with backoff (tenacity) while
/health says why; a real failure is reported at once, not retried."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from tenacity import wait_none

import finadvisor.server.app as server_app
from finadvisor.app import create_app
from finadvisor.engines.fake import FakeEngine
from finadvisor.errors import ConfigError, EngineUnavailable
from finadvisor.settings import Settings


class FlakyEngine(FakeEngine):
    def __init__(self, failures: int, error: Exception) -> None:
        super().__init__()
        self.failures, self.error, self.tries = failures, error, 0

    async def start(self) -> None:
        self.tries += 1
        if self.tries <= self.failures:
            raise self.error
        await super().start()


async def _health_when_settled(engine: FlakyEngine, tmp_path) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    app = create_app(Settings(engine="fake", cache_dir=tmp_path), engine=engine)
    async with app.router.lifespan_context(app):
        for _ in range(200):
            if engine.ready() or (engine.tries > engine.failures and app.state.engine_error):
                break
            await asyncio.sleep(0.01)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.get("/health")
            return r.status_code, r.json()


async def test_an_engine_not_up_yet_is_retried_until_it_starts(
    tmp_path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(server_app, "START_WAIT", wait_none())
    engine = FlakyEngine(3, EngineUnavailable("upstream http://u/v1 is not reachable"))
    with caplog.at_level(logging.WARNING, logger="finadvisor.server.app"):
        status, _ = await _health_when_settled(engine, tmp_path)
    assert status == 200 and engine.tries == 4
    assert (
        sum(
            "engine not available yet (upstream http://u/v1 is not reachable)" in r.getMessage()
            for r in caplog.records
        )
        == 3
    )


async def test_a_real_failure_is_not_retried(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_app, "START_WAIT", wait_none())
    engine = FlakyEngine(1, ConfigError("the model file is missing"))
    status, body = await _health_when_settled(engine, tmp_path)
    assert engine.tries == 1 and status == 503 and body["status"] == "error"  # the detail is in the log only


def test_the_wait_grows_to_thirty_seconds() -> None:
    from tenacity import RetryCallState

    waits = []
    for n in (1, 2, 3, 6, 10):
        state = RetryCallState(None, None, (), {})
        state.attempt_number = n
        waits.append(server_app.START_WAIT(state))
    assert waits == [1, 2, 4, 30, 30]
