"""The llama.cpp engine's tool, logprob and raw-prompt handling, against a stub of xllamacpp's server (no model).

The stub replays chunks shaped like llama.cpp's (captured from the real server), so the body we send and the way
we turn the model's text into tool calls are tested offline; the real model runs in tests/integration.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from finadvisor.engines.base import GenerationRequest, generate
from finadvisor.engines.llamacpp import LlamaCppEngine

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
MSG = [{"role": "user", "content": "What is the weather in Hanoi?"}]
FENCED = '```json\n{\n  "name": "get_weather",\n  "arguments": {\n    "city": "Hanoi"\n  }\n}\n```'


class StubServer:
    def __init__(self, pieces: list[str], logprob: float | None = None) -> None:
        self.pieces = pieces
        self.logprob = logprob
        self.bodies: list[dict[str, Any]] = []

    def _run(self, body: dict[str, Any], callback: Any, raw: bool) -> None:
        self.bodies.append(body)
        for piece in self.pieces:
            choice: dict[str, Any] = {"index": 0, "finish_reason": None}
            if raw:
                choice["text"] = piece
            else:
                choice["delta"] = {"content": piece}
            if self.logprob is not None:
                choice["logprobs"] = {
                    "content": [{"token": piece, "logprob": self.logprob, "top_logprobs": []}]
                }
            callback({"choices": [choice]})
        last = {"index": 0, "finish_reason": "stop", "text" if raw else "delta": "" if raw else {}}
        callback({"choices": [last], "usage": {"prompt_tokens": 7, "completion_tokens": len(self.pieces)}})

    def handle_chat_completions(self, body: dict[str, Any], callback: Any) -> None:
        self._run(body, callback, raw=False)

    def handle_completions(self, body: dict[str, Any], callback: Any) -> None:
        self._run(body, callback, raw=True)


def engine_with(stub: StubServer, tmp_path: Path) -> LlamaCppEngine:
    engine = LlamaCppEngine(None, cache_dir=tmp_path, n_parallel=2)
    engine._server = stub
    return engine


async def test_auto_parses_the_models_fenced_json(tmp_path: Path) -> None:
    stub = StubServer([FENCED[i : i + 7] for i in range(0, len(FENCED), 7)])
    out = await generate(engine_with(stub, tmp_path), GenerationRequest(messages=MSG, tools=[WEATHER]))
    assert out.finish_reason == "tool_calls" and out.text == ""
    assert json.loads(out.tool_calls[0]["function"]["arguments"]) == {"city": "Hanoi"}
    body = stub.bodies[-1]
    assert body["tools"] == [WEATHER] and "response_format" not in body and "tool_choice" not in body


async def test_auto_prose_streams_as_text(tmp_path: Path) -> None:
    stub = StubServer(["Trời ", "nắng."])
    engine = engine_with(stub, tmp_path)
    deltas = [d async for d in engine.stream(GenerationRequest(messages=MSG, tools=[WEATHER]))]
    assert [d.text for d in deltas if d.text] == ["Trời ", "nắng."]  # not held back
    assert deltas[-1].finish_reason == "stop" and not any(d.tool_calls for d in deltas)


async def test_required_and_named_are_constrained_by_a_schema(tmp_path: Path) -> None:
    stub = StubServer(['{"name": "get_weather", ', '"arguments": {"city": "Hanoi"}}'])
    engine = engine_with(stub, tmp_path)
    for choice in ("required", {"type": "function", "function": {"name": "get_weather"}}):
        out = await generate(
            engine,
            GenerationRequest(messages=MSG, tools=[WEATHER], tool_choice=choice, parallel_tool_calls=False),
        )
        assert out.finish_reason == "tool_calls" and out.tool_calls[0]["function"]["name"] == "get_weather"
        body = stub.bodies[-1]
        assert body["tool_choice"] == "none" and body["tools"] == [
            WEATHER
        ]  # template shows them; no lazy grammar
        # the call is forced by a grammar compiled from our schema (compact JSON), not by a response_format
        assert "response_format" not in body and "get_weather" in body["grammar"]
        assert body["grammar"].startswith("%llguidance") and 'whitespace_flexible":false' in body["grammar"]


async def test_none_hides_the_tools(tmp_path: Path) -> None:
    stub = StubServer(["hi"])
    out = await generate(
        engine_with(stub, tmp_path), GenerationRequest(messages=MSG, tools=[WEATHER], tool_choice="none")
    )
    assert out.text == "hi" and "tools" not in stub.bodies[-1]


async def test_sampling_extras_and_logprobs_are_passed_on(tmp_path: Path) -> None:
    stub = StubServer(["a", "b"], logprob=-0.5)
    out = await generate(
        engine_with(stub, tmp_path),
        GenerationRequest(
            messages=MSG,
            logprobs=True,
            top_logprobs=3,
            frequency_penalty=0.2,
            presence_penalty=0.1,
            logit_bias={"5": -100.0},
        ),
    )
    body = stub.bodies[-1]
    assert (body["logprobs"], body["top_logprobs"]) == (True, 3)
    assert (body["frequency_penalty"], body["presence_penalty"], body["logit_bias"]) == (
        0.2,
        0.1,
        {"5": -100.0},
    )
    assert [e["token"] for e in out.logprobs or []] == ["a", "b"]


async def test_raw_prompt_uses_handle_completions(tmp_path: Path) -> None:
    stub = StubServer([" Paris", "."])
    out = await generate(
        engine_with(stub, tmp_path),
        GenerationRequest(messages=[], prompt="The capital is", logprobs=True, top_logprobs=2),
    )
    body = stub.bodies[-1]
    assert body["prompt"] == "The capital is" and "messages" not in body and body["logprobs"] == 2
    assert out.text == " Paris." and out.prompt_tokens == 7
