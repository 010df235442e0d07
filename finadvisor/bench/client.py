"""One request, measured: a streamed OpenAI chat completion or an advisor recommendation.

Nothing here raises for a failed request: every failure becomes a ``RequestResult`` with an error kind, because a
load test must count a server that errors, stalls or hangs up, not die on it. Only ``preflight`` raises, for the
one case that should stop a run before it starts: the URL is wrong or nothing listens there.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from finadvisor.bench.http11 import Connection, ConnectionLost, ProtocolError, Response
from finadvisor.bench.stats import RequestResult
from finadvisor.errors import ConfigError, UpstreamError


@dataclass(frozen=True)
class Endpoints:
    chat: str
    models: str
    advisor: str


def resolve_endpoints(url: str) -> Endpoints:
    """Accept a server root, a ``/v1`` base URL or a full endpoint URL."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"bad --url {url!r}: expected http(s)://host:port, e.g. http://127.0.0.1:8000")
    u = url.strip().rstrip("/")
    if u.endswith("/api/recommendations"):
        root = u[: -len("/api/recommendations")]
        v1 = root + "/v1"
    elif u.endswith("/chat/completions"):
        v1 = u[: -len("/chat/completions")]
        root = v1[:-3] if v1.endswith("/v1") else v1
    elif u.endswith("/v1"):
        v1, root = u, u[:-3]
    else:
        root, v1 = u, u + "/v1"
    return Endpoints(
        chat=v1 + "/chat/completions", models=v1 + "/models", advisor=root + "/api/recommendations"
    )


class ClientPool:
    """One keep-alive connection per in-flight request, handed out LIFO (so warm connections are reused)."""

    def __init__(self, size: int, origin: str, api_key: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._conns = [Connection(origin, headers) for _ in range(size)]
        self._free: asyncio.LifoQueue[Connection] = asyncio.LifoQueue()
        for conn in self._conns:
            self._free.put_nowait(conn)

    async def acquire(self) -> Connection:
        return await self._free.get()

    def release(self, conn: Connection) -> None:
        self._free.put_nowait(conn)

    async def __aenter__(self) -> ClientPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for conn in self._conns:
            await conn.aclose()


def target_path(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


async def preflight(
    endpoints: Endpoints, *, want_model: bool, api_key: str | None = None, timeout: float = 10.0
) -> str | None:
    """Fail fast with one clear line if the server is unreachable; return the first served model if asked."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        async with httpx.AsyncClient(headers=headers, trust_env=False, timeout=timeout) as client:
            response = await client.get(endpoints.models)
    except (httpx.ConnectError, OSError) as exc:
        raise UpstreamError(
            f"cannot connect to {endpoints.models}: {_reason(exc)}. Is the server running? "
            "Start one with 'finadvisor serve' or check --url."
        ) from None
    except (TimeoutError, httpx.TimeoutException):
        raise UpstreamError(f"{endpoints.models} did not answer within {timeout:g} s; check --url") from None
    except httpx.HTTPError as exc:
        raise UpstreamError(f"cannot reach {endpoints.models}: {_reason(exc)}") from None
    if not want_model:
        return None
    if response.status_code == 401:
        raise UpstreamError(f"{endpoints.models} answered 401: pass --api-key")
    try:
        data = response.json()["data"]
        return str(data[0]["id"])
    except (ValueError, KeyError, IndexError, TypeError):
        raise ConfigError(
            f"could not read a model name from {endpoints.models} (HTTP {response.status_code}); pass --model"
        ) from None


def _reason(exc: BaseException) -> str:
    """A short cause; httpx hides 'connection refused' in the exception chain behind a generic message."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError) or "refused" in str(seen).lower():
            return "connection refused"
        seen = seen.__cause__ or seen.__context__
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


JSON_HEADERS = b"Content-Type: application/json\r\nAccept: text/event-stream, application/json\r\n"


async def chat_request(
    conn: Connection, path: str, body: dict[str, Any], *, timeout: float, t0: float
) -> RequestResult:
    """POST a streamed chat completion; measure TTFT, gaps between content deltas, tokens and e2e latency."""
    payload = json.dumps(body, ensure_ascii=False).encode()
    result = RequestResult(ok=False)
    start = time.perf_counter()
    result.start = start - t0
    response: Response | None = None
    try:
        async with asyncio.timeout(timeout):
            response = await conn.request("POST", path, payload, JSON_HEADERS)
            if response.status >= 400:
                text = (await response.read())[:300].decode("utf-8", "replace")
                return _fail(result, start, f"http_{response.status}", text)
            if "text/event-stream" not in response.headers.get("content-type", ""):
                return _non_streamed(result, start, await response.read())
            return await _read_sse(result, start, response)
    except (TimeoutError, ConnectionLost, ProtocolError, OSError) as exc:
        return _fail(result, start, *_classify(exc, response is not None, timeout))
    finally:
        if response is not None:
            conn.finish(response)
        else:
            conn.close()


def _classify(exc: BaseException, got_response: bool, timeout: float) -> tuple[str, str]:
    """Error kind and message for a failed request (the same for streamed and plain requests)."""
    if isinstance(exc, TimeoutError):
        return "timeout", f"no complete response within {timeout:g} s"
    if isinstance(exc, ConnectionLost):
        return ("mid_stream_close" if got_response else "connection"), str(exc)
    if isinstance(exc, ProtocolError):
        return "invalid_response", str(exc)
    return "connection", _reason(exc)  # type: ignore[arg-type]


async def _read_sse(result: RequestResult, start: float, response: Response) -> RequestResult:
    last: float | None = None
    chunks = 0
    usage_tokens: int | None = None
    finished = False
    buffer = b""
    async for data in response.iter_bytes():
        now = time.perf_counter()
        buffer += data
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if not line.startswith(b"data:"):
                continue
            event = line[5:].strip()
            if event == b"[DONE]":
                finished = True
                continue
            try:
                chunk = json.loads(event)
            except ValueError:
                return _fail(result, start, "invalid_response", f"not JSON: {event[:120]!r}")
            if not isinstance(chunk, dict):
                return _fail(result, start, "invalid_response", f"unexpected event: {event[:120]!r}")
            if "error" in chunk:
                return _fail(result, start, "stream_error", str(chunk["error"])[:200])
            usage = chunk.get("usage")
            if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
                usage_tokens = usage["completion_tokens"]
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                if delta.get("content"):
                    chunks += 1
                    if last is None:
                        result.ttft = now - start
                    else:
                        result.itls.append(now - last)
                    last = now
                if choice.get("finish_reason"):
                    finished = True
    result.e2e = time.perf_counter() - start
    if not finished:
        return _fail(result, start, "mid_stream_close", "stream ended without [DONE] or a finish_reason")
    result.ok = True
    result.output_tokens = usage_tokens if usage_tokens is not None else chunks
    result.tokens_from_usage = usage_tokens is not None
    return result


def _non_streamed(result: RequestResult, start: float, raw: bytes) -> RequestResult:
    """A server that ignored ``stream: true``: TTFT is the whole latency; tokens come from usage."""
    result.e2e = time.perf_counter() - start
    try:
        doc = json.loads(raw)
        content = doc["choices"][0]["message"]["content"] or ""
    except (ValueError, KeyError, IndexError, TypeError):
        return _fail(result, start, "invalid_response", f"not a chat completion: {raw[:120]!r}")
    usage = doc.get("usage") or {}
    result.ok = True
    result.ttft = result.e2e if content else None
    result.output_tokens = int(usage.get("completion_tokens") or (1 if content else 0))
    result.tokens_from_usage = "completion_tokens" in usage
    return result


async def advisor_request(
    conn: Connection, path: str, history: dict[str, Any], *, timeout: float, t0: float, no_cache: bool = False
) -> RequestResult:
    """POST /api/recommendations; e2e latency plus the X-Cache verdict."""
    payload = json.dumps({"history": history}, ensure_ascii=False).encode()
    headers = b"Content-Type: application/json\r\n" + (b"Cache-Control: no-cache\r\n" if no_cache else b"")
    result = RequestResult(ok=False)
    start = time.perf_counter()
    result.start = start - t0
    response: Response | None = None
    try:
        async with asyncio.timeout(timeout):
            response = await conn.request("POST", path, payload, headers)
            raw = await response.read()
    except (TimeoutError, ConnectionLost, ProtocolError, OSError) as exc:
        return _fail(result, start, *_classify(exc, response is not None, timeout))
    finally:
        if response is not None:
            conn.finish(response)
        else:
            conn.close()
    result.e2e = time.perf_counter() - start
    if response.status >= 400:
        return _fail(result, start, f"http_{response.status}", raw[:300].decode("utf-8", "replace"))
    try:
        json.loads(raw)
    except ValueError:
        return _fail(result, start, "invalid_response", f"not JSON: {raw[:120]!r}")
    cache = response.headers.get("x-cache", "").strip().lower()
    result.cache = cache if cache in ("hit", "miss") else None
    result.ok = True
    return result


def _fail(result: RequestResult, start: float, kind: str, detail: str) -> RequestResult:
    result.ok = False
    result.e2e = time.perf_counter() - start
    result.error = kind
    result.detail = detail
    return result
