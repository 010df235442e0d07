"""Engine capability flags mean something: the service refuses what an engine cannot do, and sizes from slots."""

from __future__ import annotations

import pytest

from finadvisor.engines import engine_capacity
from finadvisor.engines.base import GenerationRequest
from finadvisor.engines.fake import FakeEngine
from finadvisor.engines.llamacpp import LlamaCppEngine
from finadvisor.engines.openai_upstream import OpenAIUpstreamEngine
from finadvisor.engines.service import unsupported
from finadvisor.engines.transformers import TransformersEngine
from finadvisor.server import create_app
from finadvisor.settings import Settings
from tests.helpers import started_client


class PlainEngine(FakeEngine):
    """What the transformers engine can do: text only (no schema, tools, logprobs, penalties, raw prompts)."""

    name = "plain"
    supports_json_schema = False
    supports_tools = False
    supports_logprobs = False
    supports_penalties = False
    supports_completions = False


MSG = [{"role": "user", "content": "x"}]
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


@pytest.mark.parametrize(
    ("path", "extra", "param"),
    [
        ("/v1/chat/completions", {"response_format": {"type": "json_object"}}, "response_format"),
        (
            "/v1/chat/completions",
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": {"type": "object"}},
                }
            },
            "response_format",
        ),
        ("/v1/chat/completions", {"tools": [WEATHER]}, "tools"),
        ("/v1/chat/completions", {"logprobs": True}, "logprobs"),
        ("/v1/chat/completions", {"frequency_penalty": 1.0}, "frequency_penalty"),
        ("/v1/chat/completions", {"presence_penalty": 1.0}, "presence_penalty"),
        ("/v1/chat/completions", {"logit_bias": {"5": 1}}, "logit_bias"),
        ("/v1/completions", {}, "prompt"),
    ],
)
async def test_engine_without_a_capability_answers_400_naming_it(
    settings: Settings, path: str, extra: dict, param: str
) -> None:
    engine = PlainEngine()
    app = create_app(settings, engine=engine)
    body = (
        {"prompt": "x"} if path.endswith("/completions") and "chat" not in path else {"messages": MSG}
    ) | extra
    async for c in started_client(app):
        r = await c.post(path, json=body)
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["param"] == param and err["code"] == "unsupported_parameter"
        assert "'plain' engine" in err["message"]
        assert engine.calls == []  # refused, not answered unconstrained
        ok = await c.post("/v1/chat/completions", json={"messages": MSG})
        assert ok.status_code == 200


def test_transformers_flags_refuse_response_format_from_the_api_only() -> None:
    engine = object.__new__(TransformersEngine)  # the flags are class attributes: no model load
    wire = GenerationRequest(messages=MSG, json_schema={"type": "object"}, strict=True)
    internal = GenerationRequest(messages=MSG, json_schema={"type": "object"})  # the advisor validates output
    assert unsupported(engine, wire) == "response_format"
    assert unsupported(engine, internal) is None
    assert unsupported(engine, GenerationRequest(messages=MSG, tools=[WEATHER])) == "tools"
    assert (
        unsupported(
            object.__new__(LlamaCppEngine),
            GenerationRequest(
                messages=MSG,
                tools=[WEATHER],
                logprobs=True,
                logit_bias={"1": 1.0},
                strict=True,
                json_schema={"type": "object"},
            ),
        )
        is None
    )


def test_capacity_is_the_engines_own_slot_count(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(engine="fake", cache_dir=tmp_path, n_parallel=3)
    llama = LlamaCppEngine(None, cache_dir=tmp_path, n_parallel=6)
    assert engine_capacity(llama, settings) == 6
    assert engine_capacity(object.__new__(TransformersEngine), settings) == 1
    assert engine_capacity(OpenAIUpstreamEngine("http://up", slots=17), settings) == 17
    assert engine_capacity(FakeEngine(slots=5), settings) == 5
    assert engine_capacity(FakeEngine(), settings) == 3  # an engine that does not say: --n-parallel


def test_server_queue_follows_the_engine_slots(settings: Settings) -> None:
    assert create_app(settings, engine=FakeEngine(slots=7)).state.llm.capacity == 7
