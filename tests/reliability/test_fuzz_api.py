"""API fuzzing with schemathesis against the published OpenAPI schema (fake engine, in-process ASGI).

Target: no 5xx, responses conform to the schema, every 4xx in the documented error shape. CI runs a short
run; ``FINADVISOR_FUZZ_EXAMPLES=2000 pytest tests/reliability/test_fuzz_api.py`` is the long one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from finadvisor.advisor.providers import HttpHistoryProvider
from finadvisor.app import create_app
from finadvisor.engines.fake import FakeEngine
from finadvisor.settings import Settings
from tests.advisor.conftest import HISTORY, good_script

EXAMPLES = int(os.environ.get("FINADVISOR_FUZZ_EXAMPLES", "40"))
FUZZED = {"/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/models", "/api/recommendations"}
# schemathesis needs the app at import (its lazy ``from_fixture`` schema breaks on pytest 9), and building the app
# writes nothing: its caches go to a folder that is only named here, created by the lifespan in ``running_app``
# and removed by it at the end of the module.
_tmp = Path(tempfile.gettempdir()) / f"finadvisor-fuzz-{uuid.uuid4().hex}"
_engine = FakeEngine(
    script=lambda r: (
        good_script(r)
        if r.json_schema and "recommendations" in r.json_schema.get("properties", {})
        else FakeEngine().script(r)
    )
)
app = create_app(
    Settings(
        engine="fake",
        cache_dir=_tmp / "cache",
        embedder="hash",
        index_dir=_tmp / "index",
        rate_limit_per_min=100_000,
        rate_limit_per_ip_per_min=100_000,
    ),
    engine=_engine,
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
_loop: list[object] = []


@pytest.fixture(scope="module", autouse=True)
def running_app() -> Iterator[None]:
    import asyncio

    loop = asyncio.new_event_loop()
    ctx = app.router.lifespan_context(app)
    try:
        loop.run_until_complete(ctx.__aenter__())
        loop.run_until_complete(_engine.start())
        _loop.append(loop)
        yield
        loop.run_until_complete(ctx.__aexit__(None, None, None))
    finally:
        loop.close()
        shutil.rmtree(_tmp, ignore_errors=True)


@schema.include(
    path_regex="^(/v1/(chat/completions|responses|embeddings|models)|/api/recommendations)$"
).parametrize()
@settings(max_examples=EXAMPLES, deadline=None)  # every hypothesis health check on
def test_api_never_5xx_and_errors_are_documented(case) -> None:  # type: ignore[no-untyped-def]
    response = case.call()
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"} and {"message", "type", "param", "code"} <= set(body["error"])
    if response.status_code == 413:  # refused by size before validation; schemathesis' negative check
        assert body["error"]["code"] == "request_too_large"  # does not count 413 as a rejection
        return
    # positive_data_acceptance is off: business rules (the configurable max_tokens cap, a history with no
    # categories, names that are only control characters) are stricter than JSON Schema can say, and their
    # 4xx answers are checked above. Invalid data must still be rejected (negative_data_rejection stays on).
    case.validate_response(response, excluded_checks=[positive_data_acceptance])


def test_all_fuzzed_operations_are_published() -> None:
    paths = set(app.openapi()["paths"])
    assert FUZZED <= paths


_cookie_bytes = st.binary(max_size=80) | st.text(max_size=40).map(lambda t: t.encode("utf-8"))


@settings(max_examples=max(EXAMPLES, 100), deadline=None)  # every hypothesis health check on
@given(
    cookie=_cookie_bytes,
    month=st.none() | st.text(max_size=12) | st.sampled_from(["2024-01%0A", "2024-02"]),
    quoted=st.booleans(),
)
def test_get_with_any_cookie_and_month_never_5xx(cookie: bytes, month: str | None, quoted: bool) -> None:
    """The cookie route is not in the schema's parameters (the cookie name is a setting): fuzz it directly."""

    loop = _loop[0]
    if (
        not _engine.ready()
    ):  # schemathesis' calls run the app's lifespan, which closes the engine and provider
        loop.run_until_complete(_engine.start())  # type: ignore[attr-defined]
    if app.state.history_provider is None:
        # a spending API that accepts any token: what a hostile cookie would meet
        app.state.history_provider = HttpHistoryProvider(
            "http://spend/x?m={month}",
            transport=httpx.MockTransport(lambda _: httpx.Response(200, json=HISTORY)),
        )
    value = b'"' + cookie + b'"' if quoted else cookie
    query = {} if month is None else {"month": month}

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://f") as c:
            return await c.get(
                "/api/recommendations", params=query, headers=[(b"cookie", b"zlp_token=" + value)]
            )

    response = loop.run_until_complete(call())  # type: ignore[attr-defined]
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400:
        assert set(response.json()) == {"error"}
