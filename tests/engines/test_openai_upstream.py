"""The OpenAI upstream engine against our own server (fake engine) and against faulty upstreams."""

from __future__ import annotations

import httpx
import pytest

from finadvisor.engines import generate
from finadvisor.engines.base import GenerationRequest
from finadvisor.engines.fake import FakeEngine
from finadvisor.engines.openai_upstream import OpenAIUpstreamEngine
from finadvisor.errors import ContextOverflow, EngineUnavailable, InvalidRequest, UpstreamError
from finadvisor.server import create_app
from finadvisor.settings import Settings

REQ = GenerationRequest(messages=[{"role": "user", "content": "một hai"}], max_tokens=16)


async def test_round_trip_through_our_own_server(tmp_path) -> None:  # type: ignore[no-untyped-def]
    backend = FakeEngine(adapters=["faq"])
    app = create_app(Settings(engine="fake", cache_dir=tmp_path), engine=backend)
    async with app.router.lifespan_context(app):
        await backend.start()
        engine = OpenAIUpstreamEngine("http://up", adapters=["faq"], transport=httpx.ASGITransport(app=app))
        await engine.start()
        assert engine.model == "qwen2.5-coder-0.5b-instruct"
        deltas = [d async for d in engine.stream(REQ)]
        assert "".join(d.text for d in deltas) == "Bạn đã nói: một hai"
        assert len([d for d in deltas if d.text]) == 5  # proxied chunk by chunk, not re-assembled
        assert deltas[-1].finish_reason == "stop" and deltas[-1].completion_tokens == 5
        schema = {"type": "object", "properties": {"x": {"enum": ["a"]}}, "required": ["x"]}
        out = await generate(engine, GenerationRequest(messages=REQ.messages, json_schema=schema))
        assert out.text == '{"x": "a"}' and backend.calls[-1].json_schema == schema
        await generate(engine, GenerationRequest(messages=REQ.messages, adapter="faq"))
        assert backend.calls[-1].adapter == "faq"
        with pytest.raises(InvalidRequest, match="unknown adapter"):
            await generate(engine, GenerationRequest(messages=REQ.messages, adapter="nope"))
        await engine.close()


def _engine(handler) -> OpenAIUpstreamEngine:  # type: ignore[no-untyped-def]
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"data": [{"id": "m"}]})
        return handler(request)

    return OpenAIUpstreamEngine("http://up/v1", transport=httpx.MockTransport(route))


@pytest.mark.parametrize(
    ("handler", "error", "needle"),
    [
        (
            lambda r: httpx.Response(400, json={"error": {"message": "maximum context length is 2048"}}),
            ContextOverflow,
            "context",
        ),
        (
            lambda r: httpx.Response(422, json={"error": {"message": "bad schema"}}),
            InvalidRequest,
            "bad schema",
        ),
        (lambda r: httpx.Response(503, text="busy"), EngineUnavailable, "busy"),
        (lambda r: httpx.Response(500, text="boom"), UpstreamError, "500"),
        (lambda r: httpx.Response(200, text="data: {not json\n\n"), UpstreamError, "malformed"),
    ],
)
async def test_upstream_errors_are_mapped(handler, error: type, needle: str) -> None:  # type: ignore[no-untyped-def]
    engine = _engine(handler)
    await engine.start()
    with pytest.raises(error, match=needle):
        await generate(engine, REQ)
    await engine.close()


async def test_unreachable_upstream_is_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    engine = OpenAIUpstreamEngine("http://up", transport=httpx.MockTransport(refuse))
    with pytest.raises(EngineUnavailable, match="not reachable"):
        await engine.start()
    await engine.close()


async def test_tools_logprobs_penalties_and_completions_pass_through(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Through an upstream (our own server on the fake engine): the parameters arrive, tool calls come back."""
    backend = FakeEngine()
    app = create_app(Settings(engine="fake", cache_dir=tmp_path), engine=backend)
    tool = {
        "type": "function",
        "function": {
            "name": "get_rate",
            "parameters": {
                "type": "object",
                "required": ["base"],
                "properties": {"base": {"type": "string", "enum": ["USD"]}},
            },
        },
    }
    async with app.router.lifespan_context(app):
        await backend.start()
        engine = OpenAIUpstreamEngine("http://up", transport=httpx.ASGITransport(app=app))
        await engine.start()
        out = await generate(
            engine,
            GenerationRequest(
                messages=REQ.messages,
                tools=[tool],
                tool_choice="required",
                parallel_tool_calls=False,
                frequency_penalty=0.5,
                logit_bias={"7": -1.0},
            ),
        )
        sent = backend.calls[-1]
        assert sent.tools == [tool] and sent.tool_choice == "required" and sent.parallel_tool_calls is False
        assert sent.frequency_penalty == 0.5 and sent.logit_bias == {"7": -1.0}
        assert out.finish_reason == "tool_calls"
        assert [c["function"] for c in out.tool_calls] == [
            {"name": "get_rate", "arguments": '{"base": "USD"}'}
        ]
        lp = await generate(engine, GenerationRequest(messages=REQ.messages, logprobs=True, top_logprobs=1))
        assert lp.logprobs and all(e["logprob"] == FakeEngine.LOGPROB for e in lp.logprobs)
        raw = await generate(
            engine, GenerationRequest(messages=[], prompt="một hai", logprobs=True, top_logprobs=1)
        )
        assert raw.text == "Bạn đã viết: một hai" and backend.calls[-1].prompt == "một hai"
        assert (
            raw.logprobs and "".join(e["token"] for e in raw.logprobs) == raw.text
        )  # legacy shape converted
        await engine.close()
