"""One access-log line per request, and a request id that follows it.

    GET /v1/models 200 2.1 ms request_id=5f0c…
    {"ts": "...", "level": "info", "logger": "finadvisor.access", "message": "GET /v1/models 200 2.1 ms",
     "method": "GET", "path": "/v1/models", "status": 200, "duration_ms": 2.1, "request_id": "5f0c…"}

uvicorn's own access log is off (``run_server``) because it prints the query string, where a careless client
may put a token; this line has the path only, never a query, header or cookie. A client's ``X-Request-ID`` is
kept when it is a plain token (letters, digits, ``._:-``, at most 128), else one is generated; either way it is
returned in the response's ``X-Request-ID`` and set for every log line written while the request runs
(:data:`finadvisor.logs.request_id`). It is the outermost middleware, so requests refused by the API-key or
body-size checks get their line too.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from finadvisor.logs import log_event, request_id

HEADER = b"x-request-id"
_ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{1,128}")
log = logging.getLogger("finadvisor.access")


def incoming_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's request id when it is a plain token, else a fresh one (never a log-injection vector)."""
    for name, value in headers:
        if name.lower() == HEADER:
            text = value.decode("latin-1")
            if _ACCEPTED.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


class AccessLog:
    """Pure ASGI middleware (streams pass through untouched): logs when the response has been sent."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = incoming_id(scope.get("headers", []))
        token = request_id.set(rid)
        start = time.perf_counter()
        status = 500  # what the client sees when the app dies before answering

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, rid.encode("latin-1"))]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration_ms = round((time.perf_counter() - start) * 1000, 1)
            method, path = scope.get("method", ""), scope.get("path", "")
            log_event(
                log,
                f"{method} {path} {status} {duration_ms} ms",
                {"method": method, "path": path, "status": status, "duration_ms": duration_ms},
            )
            request_id.reset(token)
