"""Tool-call text parsing, the constraint schema, the auto-mode stream buffer, and the JSON-schema limits."""

from __future__ import annotations

import json

import pytest

from finadvisor.engines.schema_limits import MAX_REPEAT, check_schema
from finadvisor.engines.tools import AutoToolStream, call_deltas, constraint_schema, parse_tool_calls
from finadvisor.errors import InvalidRequest

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
RATE = {
    "type": "function",
    "function": {
        "name": "get_rate",
        "parameters": {"type": "object", "properties": {"base": {"type": "string"}}, "required": ["base"]},
    },
}
TOOLS = [WEATHER, RATE]


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "get_weather", "arguments": {"city": "Hanoi"}}',
        '```json\n{\n  "name": "get_weather",\n  "arguments": {\n    "city": "Hanoi"\n  }\n}\n```',
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Hanoi"}}\n</tool_call>',
        '{"name": "get_weather", "arguments": "{\\"city\\": \\"Hanoi\\"}"}',
        '[{"name": "get_weather", "arguments": {"city": "Hanoi"}}]',
        # the 0.5B model repeats one call until the budget ends: one call comes back
        '{"name": "get_weather", "arguments": {"city": "Hanoi"}}\n{"name": "get_weather", "arguments": {"city": "Hanoi"}}',
    ],
)
def test_model_written_calls_are_parsed(text: str) -> None:
    calls = parse_tool_calls(text, TOOLS)
    assert calls is not None and len(calls) == 1
    assert calls[0]["function"]["name"] == "get_weather"
    assert json.loads(calls[0]["function"]["arguments"]) == {"city": "Hanoi"}
    assert calls[0]["id"].startswith("call_") and calls[0]["type"] == "function"


@pytest.mark.parametrize(
    "text",
    [
        "Trời Hà Nội hôm nay nắng.",
        '{"name": "cat_joke", "arguments": {"text": "meo"}}',  # invented function: text, not a call
        '{"name": "get_weather", "arguments": {"city": "Hanoi"}} and then some prose',
        '{"name": "get_weather", "arguments": 5}',
        '{"name": "get_weather", "arguments": {"city": "Ha',  # cut by max_tokens
        "",
    ],
)
def test_anything_else_is_not_a_call(text: str) -> None:
    assert parse_tool_calls(text, TOOLS) is None


def test_parallel_calls_and_their_limit() -> None:
    text = '[{"name": "get_weather", "arguments": {"city": "A"}}, {"name": "get_rate", "arguments": {"base": "USD"}}]'
    assert [c["function"]["name"] for c in parse_tool_calls(text, TOOLS) or []] == ["get_weather", "get_rate"]
    assert len(parse_tool_calls(text, TOOLS, parallel=False) or []) == 1


def test_constraint_schema_names_the_function_or_any_tool() -> None:
    named = constraint_schema(TOOLS, {"type": "function", "function": {"name": "get_rate"}}, None)
    assert named["properties"]["name"] == {"const": "get_rate"}
    assert named["properties"]["arguments"] == RATE["function"]["parameters"]
    required = constraint_schema(TOOLS, "required", False)
    assert [s["properties"]["name"]["const"] for s in required["anyOf"]] == ["get_weather", "get_rate"]
    parallel = constraint_schema(TOOLS, "required", True)
    assert parallel["anyOf"][1]["type"] == "array" and parallel["anyOf"][1]["minItems"] == 1


def test_call_deltas_reassemble_to_the_call() -> None:
    calls = parse_tool_calls('{"name": "get_rate", "arguments": {"base": "VND"}}', TOOLS) or []
    pieces = call_deltas(calls)
    assert pieces[0]["id"] == calls[0]["id"] and pieces[0]["function"] == {
        "name": "get_rate",
        "arguments": "",
    }
    assert "".join(p["function"]["arguments"] for p in pieces) == calls[0]["function"]["arguments"]


def test_auto_stream_sends_prose_at_once_and_holds_possible_calls() -> None:
    prose = AutoToolStream(TOOLS)
    assert prose.feed("  ") == ""
    assert prose.feed("Xin") == "  Xin"  # decided: text, sent without waiting for the end
    assert prose.feed(" chào") == " chào"
    assert prose.finish() == (None, "")
    held = AutoToolStream(TOOLS)
    for piece in ["```", "json\n", '{"name": "get_weather", ', '"arguments": {"city": "Huế"}}', "\n```"]:
        assert held.feed(piece) == ""
    calls, rest = held.finish()
    assert calls and json.loads(calls[0]["function"]["arguments"]) == {"city": "Huế"} and rest == ""
    not_a_call = AutoToolStream(TOOLS)
    not_a_call.feed('{"answer": 42}')
    assert not_a_call.finish() == (None, '{"answer": 42}')  # JSON but no tool: given back as text


@pytest.mark.parametrize(
    ("schema", "needle"),
    [
        ({"type": "string", "minLength": MAX_REPEAT + 1}, "minLength"),
        ({"type": "array", "items": {"type": "string", "maxLength": 100_000}}, "maxLength"),
        ({"type": "object", "properties": {"a": {"type": "array", "maxItems": 10_000}}}, "maxItems"),
        ({"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(200)}}, "properties"),
        ({"enum": list(range(1000))}, "enum"),
        ({"type": "string", "pattern": "a" * 1000}, "pattern"),
        ({"description": "x" * 20_000}, "bytes"),
    ],
)
def test_schema_limits_name_the_limit(schema: dict, needle: str) -> None:
    with pytest.raises(InvalidRequest, match=needle) as info:
        check_schema(schema)
    assert info.value.param == "response_format" and info.value.status_code == 400


def test_deep_nesting_is_refused_but_ordinary_schemas_pass() -> None:
    deep: dict = {"type": "string"}
    for _ in range(20):
        deep = {"type": "object", "properties": {"a": deep}}
    with pytest.raises(InvalidRequest, match="deeper"):
        check_schema(deep)
    check_schema(
        {
            "type": "object",
            "required": ["service", "amount"],
            "properties": {
                "service": {"type": "string", "enum": ["a", "b"], "maxLength": 200},
                "amount": {"type": "integer", "minimum": 0},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
            },
        }
    )
