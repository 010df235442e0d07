"""The lean HTTP/1.1 client against raw scripted sockets: framing, keep-alive, stale connections, garbage."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from finadvisor.bench.http11 import Connection, ConnectionLost, ProtocolError


async def _serve(replies: list[bytes], *, close_after: bool = False):
    """A server that answers each request on a connection with the next scripted bytes."""
    state = {"connections": 0, "requests": 0}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state["connections"] += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(
                    next(
                        (
                            ln.split(b":")[1]
                            for ln in head.split(b"\r\n")
                            if ln.lower().startswith(b"content-length")
                        ),
                        b"0",
                    )
                )
                await reader.readexactly(length)
                writer.write(replies[state["requests"] % len(replies)])
                state["requests"] += 1
                await writer.drain()
                if close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}", state


async def _get(conn: Connection) -> tuple[int, bytes]:
    response = await conn.request("POST", "/x", b"{}")
    body = await response.read()
    conn.finish(response)
    return response.status, body


async def test_content_length_and_chunked_bodies_reuse_one_connection():
    replies = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n",
    ]
    server, url, state = await _serve(replies)
    async with server:
        conn = Connection(url)
        assert await _get(conn) == (200, b"hello")
        assert await _get(conn) == (201, b"abcde")
        assert await _get(conn) == (200, b"hello")
        await conn.aclose()
    assert state["connections"] == 1 and state["requests"] == 3


async def test_close_delimited_body_and_reconnect_after_server_close():
    server, url, state = await _serve([b"HTTP/1.0 200 OK\r\n\r\nuntil close"], close_after=True)
    async with server:
        conn = Connection(url)
        assert await _get(conn) == (200, b"until close")
        assert await _get(conn) == (200, b"until close")  # previous connection ended: a fresh one is opened
        await conn.aclose()
    assert state["connections"] == 2


async def test_stale_keep_alive_connection_is_retried_once():
    # The server says keep-alive but closes anyway: the next request must transparently reconnect.
    server, url, state = await _serve([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"], close_after=True)
    async with server:
        conn = Connection(url)
        assert await _get(conn) == (200, b"ok")
        await asyncio.sleep(0.05)
        assert await _get(conn) == (200, b"ok")
        await conn.aclose()
    assert state["requests"] == 2


async def test_truncated_body_and_garbage_are_errors():
    server, url, _ = await _serve([b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort"], close_after=True)
    async with server:
        conn = Connection(url)
        response = await conn.request("POST", "/x", b"")
        with pytest.raises(ConnectionLost):
            await response.read()
        conn.finish(response)
    server, url, _ = await _serve([b"SSH-2.0-OpenSSH\r\n\r\n"])
    async with server:
        conn = Connection(url)
        with pytest.raises(ProtocolError, match="not an HTTP/1.1 response"):
            await conn.request("POST", "/x", b"")
        await conn.aclose()
    server, url, _ = await _serve([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"])
    async with server:
        conn = Connection(url)
        response = await conn.request("POST", "/x", b"")
        with pytest.raises(ProtocolError, match="chunk size"):
            await response.read()
        await conn.aclose()
