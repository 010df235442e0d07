"""Function calling, logprobs, penalties, strict messages and refused parameters, on the fake engine over HTTP."""

from __future__ import annotations

import json

import httpx
import pytest

from finadvisor.engines.fake import FakeEngine

CHAT = "/v1/chat/completions"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}},
    },
}
RATE = {
    "type": "function",
    "function": {
        "name": "get_rate",
        "parameters": {
            "type": "object",
            "required": ["base"],
            "properties": {"base": {"type": "string", "enum": ["USD", "EUR"]}},
        },
    },
}


def ask(text: str = "Thời tiết Hà Nội?", **extra: object) -> dict:
    return {"messages": [{"role": "user", "content": text}], "max_tokens": 32, **extra}


async def test_tool_call_whole(client: httpx.AsyncClient, fake_engine: FakeEngine) -> None:
    r = await client.post(
        CHAT,
        json=ask(tools=[WEATHER, RATE], tool_choice={"type": "function", "function": {"name": "get_rate"}}),
    )
    assert r.status_code == 200, r.text
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"]["name"] == "get_rate" and json.loads(call["function"]["arguments"]) == {
        "base": "USD"
    }
    sent = fake_engine.calls[-1]
    assert sent.tools and sent.tools[0]["function"]["name"] == "get_weather"
    assert sent.tool_choice == {"type": "function", "function": {"name": "get_rate"}}


async def test_tool_call_streamed_as_deltas(client: httpx.AsyncClient) -> None:
    body = ask(tools=[WEATHER], stream=True, parallel_tool_calls=False)
    async with client.stream("POST", CHAT, json=body) as r:
        assert r.status_code == 200
        events = [json.loads(line[6:]) async for line in r.aiter_lines() if line.startswith("data: {")]
    pieces = [tc for e in events for tc in e["choices"][0]["delta"].get("tool_calls") or []]
    assert pieces[0]["id"].startswith("call_") and pieces[0]["function"]["name"] == "get_weather"
    assert all(p["index"] == 0 for p in pieces)
    args = "".join(p["function"].get("arguments", "") for p in pieces)
    assert json.loads(args) == {
        "city": "Tiết kiệm đều đặn mỗi tháng giúp bạn chủ động hơn với các khoản chi tiêu."
    }
    assert events[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_tool_result_round_trip_is_accepted(client: httpx.AsyncClient, fake_engine: FakeEngine) -> None:
    messages = [
        {"role": "user", "content": "Thời tiết Hà Nội?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Hà Nội"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "31°C, nắng"},
    ]
    r = await client.post(CHAT, json={"messages": messages, "tools": [WEATHER], "max_tokens": 16})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["finish_reason"] == "stop"
    assert r.json()["choices"][0]["message"]["content"] == "Bạn đã nói: 31°C, nắng"
    sent = fake_engine.calls[-1].messages
    assert sent[1]["tool_calls"][0]["function"]["name"] == "get_weather" and sent[1]["content"] is None
    assert sent[2] == {"role": "tool", "content": "31°C, nắng", "tool_call_id": "call_1"}


async def test_tool_choice_none_answers_text(client: httpx.AsyncClient) -> None:
    r = await client.post(CHAT, json=ask("a b", tools=[WEATHER], tool_choice="none"))
    assert r.json()["choices"][0]["message"] == {"role": "assistant", "content": "Bạn đã nói: a b"}


async def test_logprobs_whole_and_streamed(client: httpx.AsyncClient) -> None:
    r = await client.post(CHAT, json=ask("a b", logprobs=True, top_logprobs=2))
    content = r.json()["choices"][0]["logprobs"]["content"]
    assert "".join(e["token"] for e in content) == "Bạn đã nói: a b"
    assert all(e["logprob"] == FakeEngine.LOGPROB and len(e["top_logprobs"]) == 2 for e in content)
    plain = await client.post(CHAT, json=ask("a b"))
    assert plain.json()["choices"][0]["logprobs"] is None
    async with client.stream("POST", CHAT, json=ask("a b", logprobs=True, stream=True)) as s:
        events = [json.loads(line[6:]) async for line in s.aiter_lines() if line.startswith("data: {")]
    streamed = [e for ev in events for e in (ev["choices"][0].get("logprobs") or {}).get("content") or []]
    assert "".join(e["token"] for e in streamed) == "Bạn đã nói: a b"


async def test_penalties_and_logit_bias_reach_the_engine(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    r = await client.post(
        CHAT, json=ask(frequency_penalty=0.5, presence_penalty=-0.5, logit_bias={"9707": -100})
    )
    assert r.status_code == 200
    sent = fake_engine.calls[-1]
    assert (sent.frequency_penalty, sent.presence_penalty, sent.logit_bias) == (0.5, -0.5, {"9707": -100})


async def test_old_model_id_is_an_alias(client: httpx.AsyncClient) -> None:
    for name in ("qwen2.5-coder-0.5b-instruct", "qwen2.5-0.5b-instruct"):
        r = await client.post(CHAT, json=ask(model=name))
        assert r.status_code == 200 and r.json()["model"] == name


@pytest.mark.parametrize(
    ("messages", "needle"),
    [
        ([{"role": "user"}], "content is required"),
        ([{"role": "user", "content": None}], "content is required"),
        ([{"role": "system", "content": None}, {"role": "user", "content": "x"}], "content is required"),
        ([{"role": "user", "content": "x"}, {"role": "assistant", "content": None}], "without tool_calls"),
        ([{"role": "user", "content": "x"}, {"role": "tool", "content": "r"}], "tool_call_id"),
        (
            [
                {
                    "role": "user",
                    "content": "x",
                    "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                    ],
                }
            ],
            "only assistant",
        ),
        (
            [
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}
                    ],
                }
            ],
            "arguments",
        ),
    ],
)
async def test_message_content_rules(client: httpx.AsyncClient, messages: list, needle: str) -> None:
    r = await client.post(CHAT, json={"messages": messages})
    assert r.status_code == 400, r.text
    assert needle in r.json()["error"]["message"]
    assert r.json()["error"]["param"].startswith("messages")


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"tool_choice": "required"}, "only allowed when tools"),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "not in tools",
        ),
        ({"tools": [WEATHER, WEATHER]}, "unique"),
        (
            {"tools": [WEATHER], "tool_choice": "required", "response_format": {"type": "json_object"}},
            "response_format",
        ),
        ({"functions": [WEATHER["function"]]}, "functions is not supported"),
        ({"function_call": "auto"}, "function_call is not supported"),
        ({"audio": {"voice": "alloy"}}, "audio is not supported"),
        ({"top_logprobs": 2}, "requires logprobs"),
        ({"logit_bias": {"hello": 5}}, "token ids"),
        ({"logit_bias": {"1": 500}}, "logit_bias"),
        ({"n": 2}, "n"),
    ],
)
async def test_parameters_that_cannot_be_honoured_are_400(
    client: httpx.AsyncClient, extra: dict, needle: str
) -> None:
    r = await client.post(CHAT, json=ask(**extra))
    assert r.status_code == 400, r.text
    assert needle in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("schema", "param"),
    [
        ({"type": "object", "properties": {"a": {"type": "string", "minLength": 5000}}}, "response_format"),
        ({"type": "array", "items": {"type": "integer"}, "maxItems": 100_000}, "response_format"),
    ],
)
async def test_hostile_response_format_schema_is_400(
    client: httpx.AsyncClient, fake_engine: FakeEngine, schema: dict, param: str
) -> None:
    before = len(fake_engine.calls)
    r = await client.post(
        CHAT,
        json=ask(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}),
    )
    assert r.status_code == 400 and r.json()["error"]["param"] == param
    assert (
        r.json()["error"]["code"] == "schema_too_complex"
        and "exceeds the limit" in r.json()["error"]["message"]
    )
    assert len(fake_engine.calls) == before  # refused before any engine saw it


async def test_hostile_tool_parameters_are_400(client: httpx.AsyncClient) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "f",
            "parameters": {"type": "object", "properties": {"a": {"type": "array", "minItems": 9999}}},
        },
    }
    r = await client.post(CHAT, json=ask(tools=[tool]))
    assert r.status_code == 400 and r.json()["error"]["param"] == "tools.0.function.parameters"
