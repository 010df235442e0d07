"""Issue 29: a forced tool call cut by max_tokens stays a tool call (arguments so far, finish_reason "length"),
plain and streamed, with no text; a completed call is "tool_calls"; the parsing rules on their own."""

from __future__ import annotations

import json

import httpx

from finadvisor.engines.tools import AutoToolStream, ConstrainedToolStream, compact_schema, leading_calls

CHAT = "/v1/chat/completions"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}},
    },
}
RATE = {
    "type": "function",
    "function": {
        "name": "get_rate",
        "parameters": {"type": "object", "required": ["base"], "properties": {"base": {"type": "string"}}},
    },
}
NAMED = {"type": "function", "function": {"name": "get_weather"}}


def ask(max_tokens: int, **extra: object) -> dict:
    return {
        "messages": [{"role": "user", "content": "Thời tiết Hà Nội?"}],
        "max_tokens": max_tokens,
        "tools": [WEATHER, RATE],
        **extra,
    }


async def test_named_call_cut_short_keeps_its_arguments_so_far(client: httpx.AsyncClient) -> None:
    # The fake writes '{"name":"get_weather","arguments":{"city":"Tiết...' in 8-character tokens.
    r = await client.post(CHAT, json=ask(5, tool_choice=NAMED))
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "length" and choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    assert call["function"]["arguments"] == '{"city'  # 40 characters written, 35 of them the wrapper
    assert r.json()["usage"]["completion_tokens"] == 5


async def test_required_call_cut_short_streams_as_a_call(client: httpx.AsyncClient) -> None:
    async with client.stream("POST", CHAT, json=ask(6, tool_choice="required", stream=True)) as r:
        events = [json.loads(line[6:]) async for line in r.aiter_lines() if line.startswith("data: {")]
    deltas = [e["choices"][0]["delta"] for e in events]
    assert not any(d.get("content") for d in deltas)
    pieces = [tc for d in deltas for tc in d.get("tool_calls") or []]
    assert pieces[0]["function"]["name"] == "get_weather"
    assert "".join(p["function"].get("arguments", "") for p in pieces) == '{"city":"Tiết'
    assert events[-1]["choices"][0]["finish_reason"] == "length"


async def test_a_complete_forced_call_is_tool_calls(client: httpx.AsyncClient) -> None:
    r = await client.post(CHAT, json=ask(64, tool_choice=NAMED))
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert json.loads(choice["message"]["tool_calls"][0]["function"]["arguments"])["city"]


async def test_cut_before_the_name_is_known_gives_no_text(client: httpx.AsyncClient) -> None:
    r = await client.post(CHAT, json=ask(1, tool_choice="required"))  # '{"name":' only
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "length" and not choice["message"]["content"]
    assert "tool_calls" not in choice["message"]


def test_constrained_stream_rules() -> None:
    tools = [WEATHER, RATE]

    def finish(text: str, choice: object = "required", parallel: bool | None = None) -> tuple[list, str]:
        held = ConstrainedToolStream(tools, choice, parallel)  # type: ignore[arg-type]
        held.feed(text)
        return held.finish("length")

    calls, reason = finish('{"name":"get_weather","arguments":{"city":"Hanoi"}}')
    assert reason == "tool_calls" and json.loads(calls[0]["function"]["arguments"]) == {"city": "Hanoi"}
    calls, reason = finish('{"name": "get_w')  # the only tool whose name starts so
    assert reason == "length" and calls[0]["function"] == {"name": "get_weather", "arguments": ""}
    calls, reason = finish('{"name":"get_')  # two tools start so: no call can be named
    assert (calls, reason) == ([], "length")
    calls, _ = finish('{"name":"get_', choice=NAMED)
    assert calls[0]["function"]["name"] == "get_weather"
    # One call complete and a repeat cut short: the complete call, "tool_calls".
    calls, reason = finish('[{"name":"get_rate","arguments":{"base":"USD"}},{"name":"get_rate","argu')
    assert reason == "tool_calls" and [c["function"]["name"] for c in calls] == ["get_rate"]


def test_auto_calls_then_a_cut_repeat_are_calls_only_when_truncated() -> None:
    text = '{"name": "get_weather", "arguments": {"city": "Hanoi"}}\n{"name": "get_weather", "argu'
    stream = AutoToolStream([WEATHER])
    assert stream.feed(text) == ""
    assert stream.finish()[0] is None  # not cut by max_tokens: not entirely calls, so text
    calls, tail = stream.finish(truncated=True)
    assert calls and len(calls) == 1 and tail == ""
    prose = AutoToolStream([WEATHER])
    prose.feed('{"name": "get_weather", "arguments": {"city": "Hanoi"}} I will now')
    assert prose.finish(truncated=True)[0] is None


def test_leading_calls_reads_fenced_repeats_and_compact_schema_keeps_the_schema() -> None:
    fenced = '```json\n{"name": "get_weather", "arguments": {"city": "Hanoi"}}\n```\n```json\n{"na'
    calls, tail = leading_calls(fenced, [WEATHER])
    assert len(calls) == 1 and tail.startswith('{"na')
    schema = {"type": "object"}
    assert compact_schema(schema) == {"x-guidance": {"whitespace_flexible": False}, "type": "object"}
