"""Ray embedded mode without a cluster (issue 14 item 11): remote generations are cancelled, admission is shared.

The Ray handle is replaced by a stand-in that runs the remote generator in its own task, as a Ray replica would
(another process): cancelling the caller does not stop it, only ``response.cancel()`` does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("ray.serve")

from finadvisor.deploy.ray_app import RayHandleEngine, SharedEngine
from finadvisor.engines.base import GenerationRequest
from finadvisor.engines.fake import FakeEngine
from finadvisor.engines.service import LLMService
from finadvisor.errors import Overloaded, UpstreamTimeout
from finadvisor.metrics import Metrics
from finadvisor.settings import Settings

_DONE = object()


class RemoteStream:
    """A DeploymentResponseGenerator stand-in: the remote side runs on its own until cancelled."""

    def __init__(self, source: AsyncIterator[dict[str, Any]]) -> None:
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self.cancelled = False
        self.task = asyncio.create_task(self._pump(source))

    async def _pump(self, source: AsyncIterator[dict[str, Any]]) -> None:
        try:
            async for item in source:
                self.queue.put_nowait(item)
        finally:
            self.queue.put_nowait(_DONE)

    def __aiter__(self) -> RemoteStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        item = await self.queue.get()
        if item is _DONE:
            raise StopAsyncIteration
        return item  # type: ignore[return-value]

    def cancel(self) -> None:
        self.cancelled = True
        self.task.cancel()


class FakeHandle:
    def __init__(self, shared: SharedEngine) -> None:
        self.shared = shared
        self.responses: list[RemoteStream] = []
        self.info = SimpleNamespace(remote=shared.info)
        self.stream = SimpleNamespace(remote=self._stream)

    def options(self, **_: Any) -> FakeHandle:
        return self

    def _stream(self, request: dict[str, Any]) -> RemoteStream:
        response = RemoteStream(self.shared.stream(request))
        self.responses.append(response)
        return response


def _slow_engine() -> FakeEngine:
    return FakeEngine(script=lambda r: " ".join(["từ"] * 200), ttft_s=0.05, itl_s=0.02, slots=1)


def _request() -> GenerationRequest:
    return GenerationRequest(messages=[{"role": "user", "content": "xin chào"}], max_tokens=200)


async def test_a_timed_out_request_cancels_the_remote_generation(tmp_path) -> None:  # type: ignore[no-untyped-def]
    fake = _slow_engine()
    shared = SharedEngine(Settings(engine="fake", cache_dir=tmp_path), engine=fake)
    handle = FakeHandle(shared)
    engine = RayHandleEngine(handle)
    await engine.start()
    assert engine.slots == 1 and engine.supports_tools  # type: ignore[attr-defined]
    llm = LLMService(engine, Metrics(), model_name="m", capacity=4, timeout_s=0.3)
    with pytest.raises(UpstreamTimeout):
        await llm.generate(_request())
    await asyncio.sleep(0.1)
    remote = handle.responses[-1]
    assert remote.cancelled and remote.task.done()
    assert shared.running == 0  # the shared slot is free again
    produced = remote.queue.qsize()
    await asyncio.sleep(0.2)
    assert remote.queue.qsize() == produced  # nothing decodes for the caller that left


async def test_an_abandoned_stream_cancels_the_remote_generation(tmp_path) -> None:  # type: ignore[no-untyped-def]
    shared = SharedEngine(Settings(engine="fake", cache_dir=tmp_path), engine=_slow_engine())
    handle = FakeHandle(shared)
    engine = RayHandleEngine(handle)
    await engine.start()
    stream = engine.stream(_request())
    await anext(stream)
    await stream.aclose()  # the client went away after the first token
    await asyncio.sleep(0.05)
    assert handle.responses[-1].cancelled and shared.running == 0


async def test_a_finished_generation_is_not_cancelled(tmp_path) -> None:  # type: ignore[no-untyped-def]
    shared = SharedEngine(Settings(engine="fake", cache_dir=tmp_path), engine=FakeEngine())
    handle = FakeHandle(shared)
    engine = RayHandleEngine(handle)
    await engine.start()
    deltas = [d async for d in engine.stream(_request())]
    assert "".join(d.text for d in deltas) == "Bạn đã nói: xin chào"
    assert not handle.responses[-1].cancelled


async def test_admission_is_bounded_at_the_shared_engine(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two replicas (two LLMServices, each admitting 4) in front of one engine with 1 slot and 1 waiting place."""
    shared = SharedEngine(Settings(engine="fake", cache_dir=tmp_path, max_waiting=1), engine=_slow_engine())
    replicas = []
    for _ in range(2):
        engine = RayHandleEngine(FakeHandle(shared))
        await engine.start()
        replicas.append(LLMService(engine, Metrics(), model_name="m", capacity=4, timeout_s=30))

    async def ask(llm: LLMService) -> str:
        try:
            await llm.generate(GenerationRequest(messages=[{"role": "user", "content": "a"}], max_tokens=3))
            return "ok"
        except Overloaded as exc:
            assert exc.retry_after and exc.status_code == 503
            return "503"

    results = await asyncio.gather(*[ask(replicas[i % 2]) for i in range(6)])
    assert sorted(results) == ["503"] * 4 + ["ok"] * 2  # 1 running + 1 waiting, across both replicas
    assert shared.running == 0
