"""Hostile input never gives a 500 (issue 14 items 4 and 7): cookies, months, amounts, chunked bodies.

Includes hypothesis property tests of the history parser and of the HTTP provider (any body, any status, any
token): the only outcomes are a parsed history or a FinadvisorError below 500 or a 502/504.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from finadvisor.advisor.providers import HttpHistoryProvider, check_month, check_token
from finadvisor.app import create_app
from finadvisor.engines.fake import FakeEngine
from finadvisor.errors import FinadvisorError
from finadvisor.history import SpendingHistory
from finadvisor.settings import Settings
from tests.advisor.conftest import HISTORY, good_script
from tests.helpers import started_client

API = "/api/recommendations"


class Recorder:
    def __init__(self, payload: object = HISTORY, raw: bytes | None = None) -> None:
        self.cookies: list[str] = []
        self.payload, self.raw = payload, raw

    def provider(self) -> HttpHistoryProvider:
        def handle(request: httpx.Request) -> httpx.Response:
            self.cookies.append(request.headers.get("cookie", ""))
            if self.raw is not None:
                return httpx.Response(200, content=self.raw)
            return httpx.Response(200, json=self.payload)

        return HttpHistoryProvider("http://spend/x?m={month}", transport=httpx.MockTransport(handle))


async def _client(tmp_path, recorder: Recorder, **kw) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    s = Settings(
        engine="fake",
        cache_dir=tmp_path / "c",
        embedder="hash",
        index_dir=tmp_path / "i",
        rate_limit_per_min=1000,
        **kw,
    )
    app = create_app(s, engine=FakeEngine(script=good_script))
    async for c in started_client(app):
        app.state.history_provider = recorder.provider()
        yield c


def _raw_get(c: httpx.AsyncClient, cookie: bytes, query: str = "") -> object:
    return c.get(API + query, headers=[(b"cookie", cookie)])


@pytest.mark.parametrize(
    "cookie",
    [
        b'zlp_token="abc\\073 admin=1"',  # quoted cookie: Starlette unquotes it to 'abc; admin=1'
        b'zlp_token="abc\\054admin=1"',  # ... or to 'abc,admin=1'
        "zlp_token=tôken-ñ".encode(),  # non-ASCII (a 500 from the header encoder before)
        b"zlp_token=abc\\r\\nX-Evil: 1",
        b'zlp_token="a b c"',
    ],
)
async def test_hostile_cookies_are_401_and_never_forwarded(tmp_path, cookie: bytes) -> None:  # type: ignore[no-untyped-def]
    recorder = Recorder()
    async for c in _client(tmp_path, recorder):
        r = await _raw_get(c, cookie)  # type: ignore[misc]
        assert r.status_code == 401, r.text
        assert r.json()["error"]["code"] == "not_logged_in"
        assert recorder.cookies == []  # the spending API never saw it


async def test_a_plain_token_is_forwarded_as_the_only_cookie(tmp_path) -> None:  # type: ignore[no-untyped-def]
    recorder = Recorder()
    async for c in _client(tmp_path, recorder):
        r = await _raw_get(c, b"zlp_token=eyJhbGciOi.J9-_x~y+z/w==")  # type: ignore[misc]
        assert r.status_code == 200, r.text
        assert recorder.cookies == ["token=eyJhbGciOi.J9-_x~y+z/w=="]


@pytest.mark.parametrize(
    "month", ["2024-01%0A", "2024-01%0D", "2024-1", "%EF%BC%92024-01", "2024-13", "x" * 50]
)
async def test_months_must_match_in_full(tmp_path, month: str) -> None:  # type: ignore[no-untyped-def]
    recorder = Recorder()
    async for c in _client(tmp_path, recorder):
        r = await _raw_get(c, b"zlp_token=good-token", f"?month={month}")  # type: ignore[misc]
        assert 400 <= r.status_code < 500 and r.status_code != 401, r.text
        assert recorder.cookies == []


@pytest.mark.parametrize("amount", [10**400, -(10**400), 1e308 * 10, "9" * 40, 10**14])
async def test_huge_amounts_in_a_post_are_422(tmp_path, amount: object) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps({"history": {"spending": [{"name": "Ăn uống", "amount": amount, "count": 1}]}})
    body = body.replace("Infinity", "1e400")  # what a client would send for an out-of-range float
    async for c in _client(tmp_path, Recorder()):
        r = await c.post(API, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422, r.text
        assert "amount" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps({"spending": [{"name": "x", "amount": 10**400}]}).encode(),
        b'{"spending": [{"name": "x", "amount": ' + b"9" * 5000 + b"}]}",  # past Python's int-parsing limit
        b"[" * 100_000 + b"]" * 100_000,  # nesting past the recursion limit
        b'{"spending": [{"name": "x", "amount": 1e400}]}',
        b"\xff\xfe garbage",
    ],
)
async def test_hostile_spending_api_answers_are_502(tmp_path, raw: bytes) -> None:  # type: ignore[no-untyped-def]
    async for c in _client(tmp_path, Recorder(raw=raw)):
        r = await _raw_get(c, b"zlp_token=good-token")  # type: ignore[misc]
        assert r.status_code == 502, r.text
        assert r.json()["error"]["type"] == "upstream_error"


@pytest.mark.parametrize("size", [1_500_000, 1_000_001])
async def test_chunked_bodies_over_the_limit_are_413(tmp_path, size: int) -> None:  # type: ignore[no-untyped-def]
    async def chunks() -> AsyncIterator[bytes]:
        sent = 0
        while sent < size:
            piece = min(64 * 1024, size - sent)
            sent += piece
            yield b" " * piece

    async for c in _client(tmp_path, Recorder()):
        for path in (API, "/v1/chat/completions", "/v1/embeddings"):
            r = await c.post(path, content=chunks(), headers={"content-type": "application/json"})
            assert "content-length" not in r.request.headers
            assert r.status_code == 413, (path, r.text)
            assert r.json()["error"]["code"] == "request_too_large"


async def test_small_chunked_bodies_still_work(tmp_path) -> None:  # type: ignore[no-untyped-def]
    payload = json.dumps({"history": HISTORY}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(payload), 7):
            yield payload[i : i + 7]

    async for c in _client(tmp_path, Recorder()):
        r = await c.post(API, content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 200, r.text


# --- property tests --------------------------------------------------------------------------------------------

_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**15, max_value=10**500),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=60),
    st.sampled_from(["45.000", "45,000 đ", "1e400", "١٢٣", "9" * 41, "-5", " 7 ", "NaN"]),
)
_json = st.recursive(
    _leaf,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
)
_category = st.fixed_dictionaries({"name": _json, "amount": _json}, optional={"count": _json, "icon": _json})
_history = st.one_of(
    _json,
    st.fixed_dictionaries(
        {},
        optional={
            "earning": st.lists(_category, max_size=4) | _json,
            "spending": st.lists(_category, max_size=4) | _json,
        },
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(_history)
def test_history_parser_only_ever_raises_validation_errors(doc: object) -> None:
    try:
        history = SpendingHistory.model_validate(doc)
    except ValidationError:
        return
    for item in [*history.earning, *history.spending]:
        assert 0 <= item.amount <= 10**13 and item.amount == item.amount
        assert 0 <= item.count <= 1_000_000


_bodies = st.one_of(
    st.binary(max_size=300),
    _history.map(lambda d: json.dumps(d).encode()),
    _history.map(lambda d: json.dumps({"data": d}).encode()),
)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    status=st.sampled_from([200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 503]),
    body=_bodies,
    token=st.text(max_size=40),
    month=st.text(max_size=9) | st.just("2024-05"),
)
def test_provider_never_fails_with_anything_but_a_mapped_error(
    status: int, body: bytes, token: str, month: str
) -> None:
    provider = HttpHistoryProvider(
        "http://spend/x?m={month}",
        transport=httpx.MockTransport(lambda request: httpx.Response(status, content=body)),
    )

    async def fetch() -> None:
        try:
            await provider.fetch(token, month)
        except FinadvisorError as exc:
            assert exc.status_code < 500 or exc.status_code in (502, 504), exc
        except ValueError as exc:  # the month check: the route turns it into a 400 before calling fetch
            assert "month" in str(exc)
        finally:
            await provider.close()

    asyncio.run(fetch())


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_token_and_month_checks_are_total(text: str) -> None:
    try:
        assert check_token(text) == text and all(ch.isascii() and ch not in ' ;,"\\' for ch in text)
    except FinadvisorError as exc:
        assert exc.status_code == 401
    try:
        assert len(check_month(text)) == 7
    except ValueError:
        pass


@pytest.mark.parametrize("now", [1700000000, 1.5, True, [], {}])
async def test_now_must_be_an_iso_string(tmp_path, now: object) -> None:  # type: ignore[no-untyped-def]
    """Found by the 2,000-case fuzz run: a number was taken as a Unix time although the schema says string."""
    async for c in _client(tmp_path, Recorder()):
        r = await c.post(API, json={"history": HISTORY, "now": now})
        assert r.status_code == 422 and r.json()["error"]["param"] == "now", r.text
        ok = await c.post(API, json={"history": HISTORY, "now": "2024-05-01T08:30:00"})
        assert ok.status_code == 200
