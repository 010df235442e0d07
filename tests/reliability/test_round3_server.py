"""Issue 25, server side: limits keyed on the client not on a bearer token, the history-folder GET behind the key,
the last forwarded-for entry across header lines, the spending API's redirects and compressed bodies, merged
duplicate categories, the page's security headers and ``HEAD /health``. Each test fails on the code before it."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from pathlib import Path

import httpx
import pytest

from finadvisor.advisor.providers import HttpHistoryProvider
from finadvisor.app import create_app
from finadvisor.engines.fake import FakeEngine
from finadvisor.errors import UpstreamError
from finadvisor.history import MAX_AMOUNT, SpendingHistory
from finadvisor.settings import Settings
from tests.advisor.conftest import HISTORY, good_script
from tests.helpers import started_client

API = "/api/recommendations"
KEY = "op-key-1234567890"


def _settings(tmp_path: Path, **kw: object) -> Settings:
    base: dict[str, object] = {
        "engine": "fake",
        "cache_dir": tmp_path / "c",
        "embedder": "hash",
        "index_dir": tmp_path / "i",
    }
    return Settings(**(base | kw))


@pytest.mark.parametrize("extra", [{}, {"api_key": KEY, "public_demo": True}])
async def test_a_new_junk_token_per_request_buys_no_new_bucket(tmp_path: Path, extra: dict) -> None:
    app = create_app(
        _settings(tmp_path, rate_limit_per_min=2, **extra), engine=FakeEngine(script=good_script)
    )
    async for c in started_client(app):
        codes = [
            (
                await c.post(API, json={"history": HISTORY}, headers={"Authorization": f"Bearer junk-{i}"})
            ).status_code
            for i in range(4)
        ]
        assert codes == [200, 200, 429, 429]


async def test_a_new_junk_token_buys_no_cache_bypass(tmp_path: Path) -> None:
    app = create_app(
        _settings(tmp_path, rate_limit_per_min=100, cache_bypass_per_min=1),
        engine=FakeEngine(script=good_script),
    )
    async for c in started_client(app):
        assert (await c.post(API, json={"history": HISTORY})).headers["x-cache"] == "miss"
        seen = [
            (
                await c.post(
                    API,
                    json={"history": HISTORY},
                    headers={"Cache-Control": "no-cache", "Authorization": f"Bearer junk-{i}"},
                )
            ).headers["x-cache"]
            for i in range(3)
        ]
        assert seen == ["bypass", "hit", "hit"]


async def test_history_folder_get_needs_the_key(tmp_path: Path) -> None:
    folder = tmp_path / "histories"
    folder.mkdir()
    (folder / "alice.json").write_text(json.dumps(HISTORY), encoding="utf-8")
    app = create_app(
        _settings(tmp_path, api_key=KEY, history_dir=folder, rate_limit_per_min=100),
        engine=FakeEngine(script=good_script),
    )
    async for c in started_client(app):
        # the cookie is the bare user id: anyone could name any user
        refused = await c.get(API, headers={"Cookie": "zlp_token=alice"})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
        ok = await c.get(API, headers={"Cookie": "zlp_token=alice", "Authorization": f"Bearer {KEY}"})
        assert ok.status_code == 200


async def test_history_folder_get_stays_closed_in_public_demo(tmp_path: Path) -> None:
    folder = tmp_path / "histories"
    folder.mkdir()
    (folder / "alice.json").write_text(json.dumps(HISTORY), encoding="utf-8")
    app = create_app(
        _settings(tmp_path, api_key=KEY, history_dir=folder, public_demo=True),
        engine=FakeEngine(script=good_script),
    )
    async for c in started_client(app):
        assert (await c.get(API, headers={"Cookie": "zlp_token=alice"})).status_code == 401
        assert (await c.post(API, json={"history": HISTORY})).status_code == 200


async def test_client_ip_is_the_last_entry_across_all_header_lines(tmp_path: Path) -> None:
    app = create_app(
        _settings(tmp_path, rate_limit_per_min=2, client_ip_header="X-Forwarded-For"),
        engine=FakeEngine(script=good_script),
    )
    async for c in started_client(app):
        # the client sends its own line first; the trusted proxy adds a second line with the real address
        codes = [
            (
                await c.post(
                    API,
                    json={"history": HISTORY},
                    headers=[("X-Forwarded-For", f"10.9.9.{i}"), ("X-Forwarded-For", "203.0.113.7")],
                )
            ).status_code
            for i in range(3)
        ]
        assert codes == [200, 200, 429]


def _api(
    status: int, body: bytes, headers: dict[str, str] | None = None, seen: list[httpx.Request] | None = None
) -> HttpHistoryProvider:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(status, content=body, headers=headers or {})

    return HttpHistoryProvider("http://spend/x?m={month}", transport=httpx.MockTransport(handle))


@pytest.mark.parametrize("status", [201, 204, 301, 302, 304, 307])
async def test_a_non_200_from_the_spending_api_is_an_upstream_error(status: int) -> None:
    provider = _api(status, json.dumps(HISTORY).encode(), {"location": "http://elsewhere/"})
    with pytest.raises(UpstreamError, match=f"HTTP {status}"):
        await provider.fetch("good-token-123", "2026-11")


async def test_a_gzip_bomb_from_the_spending_api_is_refused_unread() -> None:
    bomb = gzip.compress(b"{" + b" " * 50_000_000 + b"}")
    seen: list[httpx.Request] = []
    provider = _api(200, bomb, {"content-encoding": "gzip", "content-type": "application/json"}, seen)
    with pytest.raises(UpstreamError, match="compressed"):
        await provider.fetch("good-token-123", "2026-11")
    assert seen[0].headers["accept-encoding"] == "identity"


def test_duplicate_categories_are_merged_and_totals_capped() -> None:
    history = SpendingHistory.model_validate(
        {
            "spending": [
                {"name": "Ăn uống", "amount": 100, "count": 1},
                {"name": "ăn  uống", "amount": 50, "count": 2},
                {"name": "Điện", "amount": 7},
            ]
        }
    )
    assert [(c.name, c.amount, c.count) for c in history.spending] == [("Ăn uống", 150, 3), ("Điện", 7, 0)]
    with pytest.raises(ValueError, match="add up to more than"):
        SpendingHistory.model_validate(
            {"spending": [{"name": f"c{i}", "amount": MAX_AMOUNT} for i in range(100)]}
        )


async def test_a_history_of_many_capped_amounts_is_a_422(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path), engine=FakeEngine(script=good_script))
    async for c in started_client(app):
        body = {"history": {"spending": [{"name": "Ăn uống", "amount": MAX_AMOUNT}] * 100}}
        r = await c.post(API, json=body)
        assert r.status_code == 422, r.text


async def test_the_page_sends_a_csp_with_its_script_hash(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path), engine=FakeEngine(script=good_script))
    async for c in started_client(app):
        r = await c.get("/")
        assert r.status_code == 200
        csp = r.headers["content-security-policy"]
        script = re.search(r"<script>(.*?)</script>", r.text, re.S)
        assert script is not None
        digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
        assert (
            f"script-src 'sha256-{digest}'" in csp
            and "unsafe-inline'; connect" not in csp.split("style-src")[0]
        )
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"


async def test_head_on_health(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, api_key=KEY), engine=FakeEngine(script=good_script))
    async for c in started_client(app):
        assert (await c.head("/health")).status_code == 200


@pytest.mark.parametrize(
    "host, key, warned",
    [
        ("0.0.0.0", None, True),
        ("::", None, True),
        ("10.1.2.3", None, True),
        ("example.internal", None, True),
        ("127.0.0.1", None, False),
        ("localhost", None, False),
        ("::1", None, False),
        ("0.0.0.0", "k" * 20, False),
    ],
)
def test_binding_beyond_loopback_without_a_key_warns(host: str, key: str | None, warned: bool) -> None:
    from finadvisor.server.auth import exposure_warning

    warning = exposure_warning(host, key)
    assert (warning is not None) == warned
    if warned:
        assert warning is not None and "FINADVISOR_API_KEY" in warning and host in warning


def test_serve_warns_on_stderr(monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    import logging

    import uvicorn

    from finadvisor.server.cli import run_server

    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: None)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        run_server(None, Settings(engine="fake", host="0.0.0.0"))
        err = capfd.readouterr().err
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert "listening on 0.0.0.0 with no API key" in err


def test_the_example_serve_config_holds_a_key_placeholder_that_is_refused() -> None:
    import yaml

    from finadvisor.errors import ConfigError
    from finadvisor.server.auth import exposure_warning

    config = Path(__file__).resolve().parents[2] / "finadvisor" / "deploy" / "serve_config.yaml"
    spec = yaml.safe_load(config.read_text(encoding="utf-8"))
    assert spec["http_options"]["host"] == "0.0.0.0"
    key = spec["applications"][0]["args"]["settings"]["api_key"]
    with pytest.raises(ConfigError, match="placeholder"):
        exposure_warning("0.0.0.0", key)
