"""API fuzzing with schemathesis against the published OpenAPI schema (fake engine, in-process ASGI).

Target: no 5xx, responses conform to the schema, every 4xx in the documented error shape. CI runs a short
run; ``FINADVISOR_FUZZ_EXAMPLES=2000 pytest tests/reliability/test_fuzz_api.py`` is the long one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from finadvisor.app import create_app
from finadvisor.engines.fake import FakeEngine
from finadvisor.settings import Settings
from tests.advisor.conftest import good_script

EXAMPLES = int(os.environ.get("FINADVISOR_FUZZ_EXAMPLES", "40"))
_tmp = Path(tempfile.mkdtemp(prefix="finadvisor-fuzz-"))
_engine = FakeEngine(script=lambda r: good_script(r) if r.json_schema and "recommendations" in
                     r.json_schema.get("properties", {}) else FakeEngine().script(r))
app = create_app(Settings(engine="fake", cache_dir=_tmp, embedder="hash", index_dir=_tmp / "index",
                          rate_limit_per_min=100_000), engine=_engine)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
FUZZED = {"/v1/chat/completions", "/v1/embeddings", "/v1/models", "/api/recommendations"}


@pytest.fixture(scope="module", autouse=True)
def running_app():  # type: ignore[no-untyped-def]
    import asyncio

    loop = asyncio.new_event_loop()
    ctx = app.router.lifespan_context(app)
    loop.run_until_complete(ctx.__aenter__())
    loop.run_until_complete(_engine.start())
    yield
    loop.run_until_complete(ctx.__aexit__(None, None, None))
    loop.close()


@schema.include(path_regex="^(/v1/(chat/completions|embeddings|models)|/api/recommendations)$").parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_5xx_and_errors_are_documented(case) -> None:  # type: ignore[no-untyped-def]
    response = case.call()
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"} and {"message", "type", "param", "code"} <= set(body["error"])
    # positive_data_acceptance is off: business rules (the configurable max_tokens cap, a history with no
    # categories, names that are only control characters) are stricter than JSON Schema can say, and their
    # 4xx answers are checked above. Invalid data must still be rejected (negative_data_rejection stays on).
    case.validate_response(response, excluded_checks=[positive_data_acceptance])


def test_all_fuzzed_operations_are_published() -> None:
    paths = set(app.openapi()["paths"])
    assert FUZZED <= paths
