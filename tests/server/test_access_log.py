"""The access log (issue 26): one line per request with method, path, status, duration and request id; the
``X-Request-ID`` kept or generated and returned; real JSON objects in JSON mode; no token or cookie, ever."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from finadvisor.app import create_app
from finadvisor.engines.fake import FakeEngine
from finadvisor.logs import JsonFormatter, RedactingFilter, RedactingFormatter, configure_logging, log_event
from finadvisor.settings import Settings
from tests.helpers import started_client

KEY = "sk-test-key-0123456789"
TOKEN = "user-session-token-abcdef"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the server's JSON handler writes (``finadvisor serve --log-format json``) for finadvisor's loggers."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter(JsonFormatter()))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("finadvisor")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def _objects(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]  # every line is one JSON object


def _access(stream: io.StringIO) -> list[dict[str, object]]:
    return [o for o in _objects(stream) if o["logger"] == "finadvisor.access"]


async def test_one_line_per_request_with_a_request_id(json_lines: io.StringIO, tmp_path) -> None:
    settings = Settings(engine="fake", api_key=KEY, cache_dir=tmp_path)
    async for client in started_client(create_app(settings, engine=FakeEngine())):
        ok = await client.get(
            "/v1/models", headers={"Authorization": f"Bearer {KEY}", "X-Request-ID": "abc-123"}
        )
        denied = await client.get("/v1/models?token=" + TOKEN, headers={"Cookie": f"zlp_token={TOKEN}"})
        missing = await client.get(
            "/nope", headers={"Authorization": f"Bearer {KEY}", "X-Request-ID": "bad id\nforged line"}
        )
    assert ok.status_code == 200 and ok.headers["x-request-id"] == "abc-123"  # the client's id, returned
    assert denied.status_code == 401 and len(denied.headers["x-request-id"]) == 32  # generated
    assert missing.status_code == 404 and missing.headers["x-request-id"] not in ("bad id\nforged line", "")
    lines = _access(json_lines)
    assert [(o["method"], o["path"], o["status"]) for o in lines] == [
        ("GET", "/v1/models", 200),
        ("GET", "/v1/models", 401),
        ("GET", "/nope", 404),
    ]
    assert [o["request_id"] for o in lines] == [r.headers["x-request-id"] for r in (ok, denied, missing)]
    assert all(isinstance(o["duration_ms"], float) and o["duration_ms"] >= 0 for o in lines)
    assert lines[0]["message"].startswith("GET /v1/models 200 ")  # type: ignore[union-attr]
    text = json_lines.getvalue()
    assert TOKEN not in text and KEY not in text and "zlp_token" not in text and "forged" not in text


async def test_the_advisors_line_is_a_json_object_with_the_request_id(
    json_lines: io.StringIO, tmp_path
) -> None:
    from tests.advisor.conftest import HISTORY, good_script

    settings = Settings(engine="fake", cache_dir=tmp_path / "c", embedder="hash", index_dir=tmp_path / "i")
    async for client in started_client(create_app(settings, engine=FakeEngine(script=good_script))):
        r = await client.post(
            "/api/recommendations", json={"history": HISTORY}, headers={"X-Request-ID": "r-1"}
        )
    assert r.status_code == 200, r.text
    advice = [o for o in _objects(json_lines) if o.get("message") == "recommendation"]
    assert len(advice) == 1
    assert advice[0]["cache"] == "miss" and isinstance(advice[0]["timings_ms"], dict)
    assert isinstance(advice[0]["services"], list) and advice[0]["request_id"] == "r-1"


def test_fields_cannot_overwrite_the_lines_own_keys_and_secrets_are_redacted(json_lines: io.StringIO) -> None:
    log_event(
        logging.getLogger("finadvisor.test"),
        "evt",
        {"message": "forged", "detail": f"Authorization: Bearer {KEY}"},
        level=logging.WARNING,
    )
    (entry,) = _objects(json_lines)
    assert entry["message"] == "evt" and entry["level"] == "warning" and KEY not in json.dumps(entry)


def test_text_mode_names_the_request_id_and_faiss_loader_is_quiet() -> None:
    from finadvisor.logs import TextFormatter, request_id

    record = logging.LogRecord("finadvisor.access", logging.INFO, __file__, 1, "GET / 200 1.0 ms", None, None)
    token = request_id.set("rid-9")
    try:
        assert TextFormatter().format(record).endswith("GET / 200 1.0 ms request_id=rid-9")
    finally:
        request_id.reset(token)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("info", "json")
        assert not logging.getLogger("faiss.loader").isEnabledFor(logging.INFO)
        assert logging.getLogger("finadvisor.access").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
