"""Rate limits (issue 14 item 3): moving window from ``limits``, shared through Redis, keyed on the user.

The cross-replica test runs two app instances on one real redis-server: the limit holds across them.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from finadvisor.app import create_app
from finadvisor.engines.fake import FakeEngine
from finadvisor.settings import Settings
from tests.advisor.conftest import HISTORY, good_script
from tests.helpers import free_port, require_binary, started_client

API = "/api/recommendations"


def _settings(tmp_path, **kw) -> Settings:  # type: ignore[no-untyped-def]
    base = {"engine": "fake", "cache_dir": tmp_path / "c", "embedder": "hash", "index_dir": tmp_path / "i"}
    return Settings(**(base | kw))


class CountingSpendingApi:
    """A spending API that accepts any token and counts calls (each one costs the real API a request)."""

    def __init__(self) -> None:
        self.calls = 0
        self.cookies: list[str] = []

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            self.calls += 1
            self.cookies.append(request.headers.get("cookie", ""))
            return httpx.Response(200, json=HISTORY)

        return httpx.MockTransport(handle)


def _use(app, api: CountingSpendingApi) -> None:  # type: ignore[no-untyped-def]
    from finadvisor.advisor.providers import HttpHistoryProvider

    app.state.history_provider = HttpHistoryProvider("http://spend/x?m={month}", transport=api.transport())


async def test_rotated_cookies_share_the_client_ip_limit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(
        _settings(tmp_path, rate_limit_per_min=100, rate_limit_per_ip_per_min=3),
        engine=FakeEngine(script=good_script),
    )
    api = CountingSpendingApi()
    async for c in started_client(app):
        _use(app, api)
        codes = [
            (await c.get(API, headers={"Cookie": f"zlp_token=rotated-token-{i}"})).status_code
            for i in range(5)
        ]
        assert codes == [200, 200, 200, 429, 429]
        assert api.calls == 3  # the refused requests never reached the spending API


async def test_get_is_limited_per_token(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(_settings(tmp_path, rate_limit_per_min=2), engine=FakeEngine(script=good_script))
    api = CountingSpendingApi()
    async for c in started_client(app):
        _use(app, api)
        same = [
            (await c.get(API, headers={"Cookie": "zlp_token=user-a-token"})).status_code for _ in range(3)
        ]
        other = (await c.get(API, headers={"Cookie": "zlp_token=user-b-token"})).status_code
        assert same == [200, 200, 429] and other == 200
        refused = await c.get(API, headers={"Cookie": "zlp_token=user-a-token"})
        assert 1 <= int(refused.headers["retry-after"]) <= 60


async def test_post_keys_on_trusted_client_ip_header(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(
        _settings(tmp_path, rate_limit_per_min=2, client_ip_header="X-Forwarded-For"),
        engine=FakeEngine(script=good_script),
    )
    async for c in started_client(app):

        async def post(ip: str, client: httpx.AsyncClient = c) -> int:
            r = await client.post(
                API, json={"history": HISTORY}, headers={"X-Forwarded-For": f"6.6.6.6, {ip}"}
            )
            return r.status_code

        codes_a = [await post("10.0.0.1") for _ in range(3)]
        code_b = await post("10.0.0.2")
        assert codes_a == [200, 200, 429] and code_b == 200  # behind one proxy, users do not share one bucket


async def test_untrusted_forwarded_header_is_ignored(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(_settings(tmp_path, rate_limit_per_min=2), engine=FakeEngine(script=good_script))
    async for c in started_client(app):
        codes = [
            (
                await c.post(API, json={"history": HISTORY}, headers={"X-Forwarded-For": f"10.0.0.{i}"})
            ).status_code
            for i in range(3)
        ]
        assert codes == [200, 200, 429]  # spoofing the header does not buy a fresh bucket


async def test_operator_can_turn_the_limit_off(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(_settings(tmp_path, rate_limit_per_min=0), engine=FakeEngine(script=good_script))
    async for c in started_client(app):
        codes = {(await c.post(API, json={"history": HISTORY})).status_code for _ in range(40)}
        assert codes == {200}


async def test_no_cache_is_limited_for_callers_without_the_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(
        _settings(tmp_path, rate_limit_per_min=100, cache_bypass_per_min=2),
        engine=FakeEngine(script=good_script),
    )
    async for c in started_client(app):
        assert (await c.post(API, json={"history": HISTORY})).headers["x-cache"] == "miss"
        seen = [
            (await c.post(API, json={"history": HISTORY}, headers={"Cache-Control": "no-cache"})).headers[
                "x-cache"
            ]
            for _ in range(4)
        ]
        assert seen == ["bypass", "bypass", "hit", "hit"]


async def test_no_cache_is_honoured_for_operators(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(
        _settings(tmp_path, rate_limit_per_min=100, cache_bypass_per_min=0, api_key="k" * 16),
        engine=FakeEngine(script=good_script),
    )
    async for c in started_client(app):
        headers = {"Authorization": "Bearer " + "k" * 16, "Cache-Control": "no-cache"}
        seen = [
            (await c.post(API, json={"history": HISTORY}, headers=headers)).headers["x-cache"]
            for _ in range(3)
        ]
        assert seen == ["bypass"] * 3


@pytest.fixture
def redis_url() -> Iterator[str]:
    port = free_port()
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
    import socket

    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(5)


@pytest.mark.integration
async def test_two_replicas_share_one_limit_through_redis(tmp_path, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    apps = [
        create_app(
            _settings(tmp_path / name, rate_limit_per_min=3, cache_url=redis_url),
            engine=FakeEngine(script=good_script),
        )
        for name in ("a", "b")
    ]
    clients = [started_client(app) for app in apps]
    a = await clients[0].__anext__()
    b = await clients[1].__anext__()
    try:
        codes = []
        for c in (a, b, a, b, a):  # alternate replicas, as a load balancer would
            codes.append((await c.post(API, json={"history": HISTORY})).status_code)
        assert codes == [200, 200, 200, 429, 429]  # 3 in all, not 3 per replica
        other = await b.post(
            API, json={"history": HISTORY}, headers={"Authorization": "Bearer another-client"}
        )
        assert other.status_code == 429  # an unverified token is not another client (issue 25)
    finally:
        for gen in clients:
            await gen.aclose()


async def test_redis_down_lets_requests_through(tmp_path) -> None:  # type: ignore[no-untyped-def]
    dead = f"redis://127.0.0.1:{free_port()}/0"
    from finadvisor.advisor.ratelimit import RateLimiter

    limiter = RateLimiter(1, cache_url=dead)
    assert [await limiter.allow("k") for _ in range(3)] == [True, True, True]
    await limiter.close()
