"""A lean HTTP/1.1 keep-alive client for the measured requests: the load generator must never be the bottleneck.

Why not httpx for the hot path: profiled against a trivial local stub, httpx + httpcore cost 1.3-2.8 ms of CPU per
streamed request on this 2-core machine (connection-pool rescans, anyio cancel scopes, h11 event objects), capping
the tool at a few hundred requests/s. This client does only what a benchmark needs: one connection, one request
at a time, Content-Length or chunked bodies yielded as they arrive, TLS via asyncio. httpx still does the
preflight, where convenience beats speed. See docs/BENCHMARKS.md for the measured difference.

    ProtocolError      the server sent something that is not HTTP/1.1 (-> "invalid_response")
    ConnectionLost     the connection closed before the response was complete (-> "mid_stream_close")
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from urllib.parse import urlsplit


class ProtocolError(Exception):
    pass


class ConnectionLost(Exception):
    pass


_SSL: ssl.SSLContext | None = None


def ssl_context() -> ssl.SSLContext:
    """Loading CA certificates costs ~40 ms; do it once per process."""
    global _SSL
    if _SSL is None:
        _SSL = ssl.create_default_context()
    return _SSL


class Response:
    def __init__(self, conn: Connection, status: int, headers: dict[str, str]) -> None:
        self._conn = conn
        self.status = status
        self.headers = headers
        self.complete = False
        encoding = headers.get("transfer-encoding", "").lower()
        self.chunked = "chunked" in encoding
        length = headers.get("content-length")
        try:
            self.length = int(length) if length is not None and not self.chunked else None
        except ValueError:
            raise ProtocolError(f"bad Content-Length {length!r}") from None
        self.keep_alive = headers.get("connection", "").lower() != "close"
        if status in (204, 304):
            self.length = 0

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        """Body pieces as they arrive (chunked: one piece per chunk)."""
        reader = self._conn.reader
        try:
            if self.chunked:
                while True:
                    line = await reader.readuntil(b"\r\n")
                    try:
                        size = int(line.split(b";", 1)[0].strip(), 16)
                    except ValueError:
                        raise ProtocolError(f"bad chunk size line {line[:40]!r}") from None
                    if size == 0:
                        while await reader.readuntil(b"\r\n") != b"\r\n":
                            pass  # trailers
                        break
                    data = await reader.readexactly(size + 2)
                    yield data[:-2]
            elif self.length is not None:
                remaining = self.length
                while remaining:
                    data = await reader.read(min(remaining, 1 << 16))
                    if not data:
                        raise ConnectionLost(f"connection closed with {remaining} body bytes missing")
                    remaining -= len(data)
                    yield data
            else:  # body delimited by connection close
                self.keep_alive = False
                while data := await reader.read(1 << 16):
                    yield data
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise ConnectionLost(f"connection closed mid-body ({type(exc).__name__})") from None
        except asyncio.LimitOverrunError:
            raise ProtocolError("chunk header too long") from None
        self.complete = True

    async def read(self) -> bytes:
        return b"".join([piece async for piece in self.iter_bytes()])


class Connection:
    """One keep-alive connection to one origin; reconnects when the server has closed it."""

    def __init__(self, url: str, default_headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(url)
        self.tls = parts.scheme == "https"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (443 if self.tls else 80)
        host_header = self.host if parts.port is None else f"{self.host}:{self.port}"
        headers = {
            "Host": host_header,
            "User-Agent": "finadvisor-bench",
            "Accept-Encoding": "identity",
            **(default_headers or {}),
        }
        self._head_tail = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode("latin-1")
        self.reader: asyncio.StreamReader
        self._writer: asyncio.StreamWriter | None = None
        self._closing: list[asyncio.StreamWriter] = []

    async def _connect(self) -> None:
        self.reader, self._writer = await asyncio.open_connection(
            self.host, self.port, ssl=ssl_context() if self.tls else None, limit=1 << 20
        )

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._closing.append(self._writer)
            self._writer = None

    async def aclose(self) -> None:
        """Close and wait until every transport this connection opened is gone (no ResourceWarning when the
        loop ends right after)."""
        self.close()
        closing, self._closing = self._closing, []
        for writer in closing:
            with contextlib.suppress(OSError, RuntimeError):
                await writer.wait_closed()

    async def request(self, method: str, path: str, body: bytes = b"", headers: bytes = b"") -> Response:
        """Send a request and read the status line and headers. Call ``finish`` after consuming the body."""
        head = (
            f"{method} {path} HTTP/1.1\r\n".encode("latin-1")
            + self._head_tail
            + headers
            + b"Content-Length: %d\r\n\r\n" % len(body)
        )
        reused = self._writer is not None and not self._writer.is_closing() and not self.reader.at_eof()
        if not reused:
            self.close()
            await self._connect()
        for attempt in (0, 1):
            assert self._writer is not None
            try:
                self._writer.write(head + body)
                raw = await self.reader.readuntil(b"\r\n\r\n")
                break
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                self.close()
                partial = getattr(exc, "partial", b"")
                if attempt == 0 and reused and not partial:
                    await self._connect()  # the server closed an idle keep-alive connection: retry once
                    continue
                raise ConnectionLost(
                    f"connection closed before response headers ({type(exc).__name__})"
                ) from None
            except asyncio.LimitOverrunError:
                self.close()
                raise ProtocolError("response headers too long") from None
        lines = raw.decode("latin-1").split("\r\n")
        status_line = lines[0].split(" ", 2)
        if len(status_line) < 2 or not status_line[0].startswith("HTTP/1.") or not status_line[1].isdigit():
            self.close()
            raise ProtocolError(f"not an HTTP/1.1 response: {lines[0][:60]!r}")
        fields: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip()
        if status_line[0] == "HTTP/1.0" and fields.get("connection", "").lower() != "keep-alive":
            fields["connection"] = "close"
        return Response(self, int(status_line[1]), fields)

    def finish(self, response: Response) -> None:
        """Keep the connection only if the body was fully read and the server allows reuse."""
        if not (response.complete and response.keep_alive):
            self.close()
