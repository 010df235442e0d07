"""Redaction covers every handler and all of a record's text (issue 14 item 8), in-process.

The real-uvicorn test (test_secrets_under_uvicorn.py) is the end-to-end proof; these pin the pieces: tracebacks,
handlers that third parties own (uvicorn, Ray), URL credentials, per-request tokens, the JSON format.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from finadvisor.logs import (
    JsonFormatter,
    RedactingFormatter,
    add_secrets,
    install_redaction,
    redact,
    request_secret,
)

SECRET = "zz-secret-value-31337"


@pytest.fixture
def foreign_logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger like Ray's or uvicorn's: its own handler and formatter, no propagation to root."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("ray.serve")
    saved = (logger.handlers[:], logger.propagate, logger.level)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger, stream
    logger.handlers[:], logger.propagate, logger.level = saved


def test_a_foreign_handler_redacts_messages_and_tracebacks(foreign_logger) -> None:  # type: ignore[no-untyped-def]
    logger, stream = foreign_logger
    add_secrets(SECRET)
    install_redaction()
    try:
        raise RuntimeError(f"upstream said {SECRET} at https://bob:hunter2hunter2@llm.internal/v1")
    except RuntimeError:
        logger.exception("call failed for %s", SECRET)
    logger.info("retry with api_key=abcdef123456 and Bearer abcdefghijklmnop")
    text = stream.getvalue()
    assert "Traceback" in text and "RuntimeError" in text and "llm.internal" in text
    for leak in (SECRET, "hunter2hunter2", "abcdef123456", "abcdefghijklmnop"):
        assert leak not in text
    install_redaction()  # idempotent: formatter not wrapped twice
    assert not isinstance(logger.handlers[0].formatter.inner, RedactingFormatter)  # type: ignore[union-attr]


def test_request_secrets_stay_in_their_own_context() -> None:
    async def one_request(token: str) -> tuple[str, str]:
        request_secret(token)
        await asyncio.sleep(0)
        return redact(f"boom {token}"), redact("other-token-BBBBBBBB")

    async def main() -> list[tuple[str, str]]:
        return list(await asyncio.gather(one_request("token-AAAAAAAA"), one_request("different-CCCCCCCC")))

    results = asyncio.run(main())
    assert results[0] == ("boom [REDACTED]", "other-token-BBBBBBBB")  # unknown to this context: left alone
    assert results[1][0] == "boom [REDACTED]"
    assert redact("token-AAAAAAAA") == "token-AAAAAAAA"  # not a process-wide secret


def test_json_lines_are_redacted_and_parse() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "key %s failed", (SECRET,), None)
    add_secrets(SECRET)
    line = RedactingFormatter(JsonFormatter()).format(record)
    entry = json.loads(line)
    assert (
        entry["message"] == "key [REDACTED] failed" and entry["level"] == "error" and entry["logger"] == "x"
    )
