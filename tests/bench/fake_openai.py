"""A scripted OpenAI-compatible server on loopback, for benchmark tests.

Each request takes the next ``Behaviour`` from ``FakeServer.script`` (cycled): a TTFT, a gap between tokens, a
number of tokens, and a failure mode. uvicorn runs it in a background thread so timings are real network timings.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Behaviour:
    ttft: float = 0.05
    itl: float = 0.02
    tokens: int = 5
    mode: str = "ok"  # ok | http500 | close | stall | badjson | nousage
    stall: float = 5.0


@dataclass
class FakeServer:
    script: list[Behaviour] = field(default_factory=lambda: [Behaviour()])
    cache_pattern: list[str] = field(default_factory=lambda: ["miss"])
    count: int = 0
    bodies: list[dict] = field(default_factory=list)
    headers: list[dict] = field(default_factory=list)
    port: int = 0

    def next(self) -> Behaviour:
        b = self.script[self.count % len(self.script)]
        self.count += 1
        return b

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _chunk(content: str | None = None, finish: str | None = None, usage: dict | None = None) -> bytes:
    doc: dict = {
        "id": "x",
        "object": "chat.completion.chunk",
        "model": "fake",
        "choices": []
        if usage
        else [{"index": 0, "delta": {"content": content} if content else {}, "finish_reason": finish}],
    }
    if usage:
        doc["usage"] = usage
    return b"data: " + json.dumps(doc).encode() + b"\n\n"


def build_app(state: FakeServer) -> Starlette:
    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

    async def chat(request: Request) -> Response:
        body = await request.json()
        state.bodies.append(body)
        state.headers.append(dict(request.headers))
        b = state.next()
        if b.mode == "http500":
            await asyncio.sleep(b.ttft)
            return JSONResponse({"error": {"message": "boom", "type": "internal_error"}}, status_code=500)

        async def events():
            await asyncio.sleep(b.ttft if b.mode != "stall" else b.stall)
            yield _chunk("")  # role-only / empty first chunk, as real servers send: must not count as TTFT
            for i in range(b.tokens):
                if i:
                    await asyncio.sleep(b.itl)
                if b.mode == "close" and i == b.tokens // 2:
                    raise RuntimeError("scripted mid-stream close")
                if b.mode == "badjson" and i == 1:
                    yield b"data: {not json\n\n"
                yield _chunk(f"tok{i} ")
            yield _chunk(finish="stop")
            if b.mode != "nousage":
                yield _chunk(
                    usage={"prompt_tokens": 10, "completion_tokens": b.tokens, "total_tokens": 10 + b.tokens}
                )
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def recommend(request: Request) -> Response:
        body = await request.json()
        state.bodies.append(body)
        state.headers.append(dict(request.headers))
        b = state.next()
        await asyncio.sleep(b.ttft)
        if b.mode == "http500":
            return JSONResponse({"error": {"message": "boom"}}, status_code=500)
        verdict = state.cache_pattern[(state.count - 1) % len(state.cache_pattern)]
        if request.headers.get("cache-control") == "no-cache":
            verdict = "miss"
        return JSONResponse({"summary": "ok", "recommendations": []}, headers={"X-Cache": verdict})

    return Starlette(
        routes=[
            Route("/v1/models", models),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/api/recommendations", recommend, methods=["POST"]),
        ]
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    def __init__(self, state: FakeServer) -> None:
        state.port = free_port()
        self.state = state
        config = uvicorn.Config(
            build_app(state), host="127.0.0.1", port=state.port, log_level="critical", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> FakeServer:
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("fake server did not start")
            time.sleep(0.01)
        return self.state

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
