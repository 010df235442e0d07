"""Auth on every route (issue 14 items 2 and 10): with an API key, nothing that spends compute or shows data is open.

Deny by default: /health is the only route open to everyone (and shows no detail), the cookie-authenticated
GET /api/recommendations is exempt from the key, and the page and demo routes are public only with public_demo.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from finadvisor.advisor.mock_api import create_mock_app
from finadvisor.advisor.providers import HttpHistoryProvider
from finadvisor.app import create_app
from finadvisor.engines.fake import FakeEngine
from finadvisor.errors import ConfigError
from finadvisor.settings import Settings
from tests.advisor.conftest import HISTORY, good_script
from tests.helpers import started_client

KEY = "op-key-1234567890"
AUTH = {"Authorization": f"Bearer {KEY}"}
PROTECTED = [
    ("POST", "/api/recommendations"),
    ("GET", "/metrics"),
    ("GET", "/docs"),
    ("GET", "/openapi.json"),
    ("GET", "/redoc"),
    ("GET", "/api/demo-users"),
    ("GET", "/api/demo-users/chi-noi-tro"),
    ("GET", "/"),
    ("GET", "/v1/models"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/embeddings"),
    ("GET", "/no-such-route"),
]


def _settings(tmp_path, **kw) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(
        engine="fake",
        cache_dir=tmp_path / "c",
        embedder="hash",
        index_dir=tmp_path / "i",
        rate_limit_per_min=1000,
        **kw,
    )


@pytest.mark.parametrize("method, path", PROTECTED)
async def test_every_route_needs_the_key(tmp_path, method: str, path: str) -> None:  # type: ignore[no-untyped-def]
    app = create_app(_settings(tmp_path, api_key=KEY), engine=FakeEngine(script=good_script))
    async for c in started_client(app):
        body = {"history": HISTORY} if path == "/api/recommendations" else None
        for headers in ({}, {"Authorization": "Bearer wrong-key"}, {"Authorization": KEY}):
            r = await c.request(method, path, json=body, headers=headers)
            assert r.status_code == 401, (path, headers, r.text)
            assert r.json()["error"]["code"] == "invalid_api_key" and KEY not in r.text
        ok = await c.request(method, path, json=body, headers=AUTH)
        assert ok.status_code != 401, (path, ok.text)


async def test_with_the_key_operators_get_everything_but_demo_routes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(_settings(tmp_path, api_key=KEY), engine=FakeEngine(script=good_script))
    async for c in started_client(app):
        assert (
            await c.post("/api/recommendations", json={"history": HISTORY}, headers=AUTH)
        ).status_code == 200
        assert "finadvisor" in (await c.get("/metrics", headers=AUTH)).text
        assert (await c.get("/openapi.json", headers=AUTH)).json()["info"]["title"] == "finadvisor"
        # demo mode is off when a key is set: the demo routes are not there at all, even for operators
        off = await c.get("/api/demo-users", headers=AUTH)
        assert off.status_code == 404 and "FINADVISOR_DEMO_MODE" in off.json()["error"]["message"]


async def test_health_is_open_but_without_detail(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = _settings(tmp_path, api_key=KEY)
    app = create_app(settings, engine=FakeEngine())
    async for c in started_client(app):
        anonymous = await c.get("/health")
        assert anonymous.status_code == 200 and anonymous.json() == {"status": "ok"}
        operator = await c.get("/health", headers=AUTH)
        assert operator.json() == {"status": "ok", "model": app.state.llm.model_name}


class _BrokenEngine(FakeEngine):
    async def start(self) -> None:
        raise ConfigError(
            "cannot load /srv/models/secret-model.gguf from https://admin:hunter2@llm.internal/v1"
        )


async def test_health_never_shows_the_engine_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(_settings(tmp_path, api_key=KEY), engine=_BrokenEngine())
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            for _ in range(100):
                r = await c.get("/health", headers=AUTH)
                if r.json()["status"] == "error":
                    break
                await asyncio.sleep(0.01)
            for headers in ({}, AUTH):
                r = await c.get("/health", headers=headers)
                assert r.status_code == 503 and r.json()["status"] == "error"
                for leak in ("hunter2", "/srv/models", "llm.internal", "secret-model"):
                    assert leak not in r.text


async def test_cookie_get_is_exempt_from_the_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(_settings(tmp_path, api_key=KEY), engine=FakeEngine(script=good_script))
    async for c in started_client(app):
        app.state.history_provider = HttpHistoryProvider(
            "http://mock/v1/pfm/summary/category?filter_month={month}",
            transport=httpx.ASGITransport(app=create_mock_app()),
        )
        assert (await c.get("/api/recommendations")).status_code == 401  # no cookie: the user must log in
        c.cookies.set("zlp_token", "demo-chi-noi-tro")
        assert (await c.get("/api/recommendations")).status_code == 200


async def test_public_demo_opens_page_demo_and_post_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(
        _settings(tmp_path, api_key=KEY, public_demo=True, demo_mode=True),
        engine=FakeEngine(script=good_script),
    )
    async for c in started_client(app):
        assert (await c.get("/")).status_code == 200
        assert "chi-noi-tro" in (await c.get("/api/demo-users")).json()["users"]
        assert (await c.post("/api/recommendations", json={"history": HISTORY})).status_code == 200
        for path in ("/metrics", "/openapi.json", "/docs", "/v1/models"):
            assert (await c.get(path)).status_code == 401


@pytest.mark.parametrize(
    "kw, enabled",
    [
        ({}, True),
        ({"demo_mode": False}, False),
        ({"history_dir": "HIST"}, False),
        ({"history_dir": "HIST", "demo_mode": True}, True),
        ({"spending_api_url": "http://x/{month}"}, False),
    ],
)
async def test_demo_routes_only_in_demo_mode(tmp_path, kw, enabled: bool) -> None:  # type: ignore[no-untyped-def]
    if kw.get("history_dir") == "HIST":
        folder = tmp_path / "real-users"
        folder.mkdir()
        (folder / "alice.json").write_text('{"spending": [{"name": "Ăn uống", "amount": 1000}]}')
        kw = {**kw, "history_dir": folder}
    app = create_app(_settings(tmp_path, **kw), engine=FakeEngine(script=good_script))
    async for c in started_client(app):
        listing = await c.get("/api/demo-users")
        assert (listing.status_code == 200) is enabled
        if not enabled:
            assert listing.status_code == 404
            assert "alice" not in listing.text
