"""Issue 29: ``POST /v1/responses`` on the fake engine, checked against the official SDK's own types (the ground
truth for shapes): whole and streamed, instructions, text.format, function tools and their outputs fed back,
max_output_tokens, refusals, and the same auth, limits and metrics as chat."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from openai import AsyncOpenAI
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from finadvisor.app import create_app
from finadvisor.engines.fake import FakeEngine
from finadvisor.settings import Settings
from tests.helpers import started_client

URL = "/v1/responses"
EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}},
}


@pytest.fixture
def sdk(client: httpx.AsyncClient) -> AsyncOpenAI:
    return AsyncOpenAI(base_url="http://test/v1", api_key="unused", http_client=client, max_retries=0)


async def events_of(client: httpx.AsyncClient, body: dict[str, Any]) -> list[dict[str, Any]]:
    async with client.stream("POST", URL, json=body | {"stream": True}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = [line async for line in r.aiter_lines() if line]
    names = [line[7:] for line in lines if line.startswith("event: ")]
    events = [json.loads(line[6:]) for line in lines if line.startswith("data: ")]
    assert names == [e["type"] for e in events] and "[DONE]" not in "".join(lines)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    for event in events:
        EVENTS.validate_python(event)  # every event has the SDK's shape
    return events


async def test_string_input_whole(client: httpx.AsyncClient, fake_engine: FakeEngine) -> None:
    r = await client.post(
        URL, json={"input": "a b", "instructions": "Trả lời ngắn.", "max_output_tokens": 32}
    )
    assert r.status_code == 200, r.text
    response = Response.model_validate(r.json())
    assert (
        response.object == "response" and response.status == "completed" and response.id.startswith("resp_")
    )
    assert response.output_text == "Bạn đã nói: a b"
    (message,) = response.output
    assert message.type == "message" and message.role == "assistant" and message.id.startswith("msg_")
    assert response.usage is not None and response.usage.output_tokens == 5
    assert response.usage.total_tokens == response.usage.input_tokens + 5
    assert response.model == "qwen2.5-coder-0.5b-instruct" and response.store is False
    sent = fake_engine.calls[-1]
    assert sent.messages == [
        {"role": "system", "content": "Trả lời ngắn."},
        {"role": "user", "content": "a b"},
    ]
    assert sent.max_tokens == 32


async def test_sdk_create_with_message_items(sdk: AsyncOpenAI, fake_engine: FakeEngine) -> None:
    response = await sdk.responses.create(
        model="qwen2.5-0.5b-instruct",
        temperature=0.2,
        top_p=0.9,
        input=[
            {"role": "developer", "content": "Bạn là trợ lý."},
            {"role": "user", "content": [{"type": "input_text", "text": "Xin chào"}]},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Chào bạn"}],
            },
            {"role": "user", "content": "Tiết kiệm thế nào?"},
        ],
    )
    assert response.output_text == "Bạn đã nói: Tiết kiệm thế nào?"
    sent = fake_engine.calls[-1]
    assert [m["role"] for m in sent.messages] == ["system", "user", "assistant", "user"]
    assert sent.temperature == 0.2 and sent.top_p == 0.9 and sent.adapter is None


async def test_text_format_json_schema_and_json_object(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    schema = {"type": "object", "required": ["amount"], "properties": {"amount": {"type": "integer"}}}
    r = await client.post(
        URL,
        json={
            "input": "x",
            "text": {"format": {"type": "json_schema", "name": "spend", "schema": schema, "strict": True}},
        },
    )
    assert json.loads(Response.model_validate(r.json()).output_text) == {"amount": 0}
    assert fake_engine.calls[-1].json_schema == schema
    assert r.json()["text"]["format"]["name"] == "spend"
    r = await client.post(URL, json={"input": "x", "text": {"format": {"type": "json_object"}}})
    assert json.loads(r.json()["output"][0]["content"][0]["text"]) == {"ok": True}


async def test_function_call_then_its_output_fed_back(sdk: AsyncOpenAI, fake_engine: FakeEngine) -> None:
    first = await sdk.responses.create(
        model="qwen2.5-coder-0.5b-instruct",
        input="Thời tiết Hà Nội?",
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
    )
    (call,) = first.output
    assert call.type == "function_call" and call.name == "get_weather" and call.status == "completed"
    assert call.call_id.startswith("call_") and call.id and call.id.startswith("fc_")
    assert json.loads(call.arguments)["city"] and first.status == "completed" and first.output_text == ""
    assert fake_engine.calls[-1].tool_choice == {"type": "function", "function": {"name": "get_weather"}}
    second = await sdk.responses.create(
        model="qwen2.5-coder-0.5b-instruct",
        tools=[WEATHER],
        input=[
            {"role": "user", "content": "Thời tiết Hà Nội?"},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "31°C, nắng"},
        ],
    )
    assert second.output_text == "Bạn đã nói: 31°C, nắng"
    sent = fake_engine.calls[-1].messages
    assert sent[1]["role"] == "assistant" and sent[1]["tool_calls"][0]["id"] == call.call_id
    assert sent[2] == {"role": "tool", "content": "31°C, nắng", "tool_call_id": call.call_id}


async def test_stream_event_sequence_for_text(client: httpx.AsyncClient) -> None:
    events = await events_of(client, {"input": "a b c"})
    types = [e["type"] for e in events]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert len(deltas) == 6 and "".join(deltas) == "Bạn đã nói: a b c"
    assert events[0]["response"]["status"] == "in_progress" and events[0]["response"]["output"] == []
    final = Response.model_validate(events[-1]["response"])
    assert final.output_text == "Bạn đã nói: a b c" and final.usage and final.usage.output_tokens == 6
    assert len({e["response"]["id"] for e in events if "response" in e}) == 1


async def test_sdk_stream_helper_and_function_call_events(
    sdk: AsyncOpenAI, client: httpx.AsyncClient
) -> None:
    async with sdk.responses.stream(model="qwen2.5-coder-0.5b-instruct", input="xin chào") as stream:
        texts = [e.delta async for e in stream if e.type == "response.output_text.delta"]
        final = await stream.get_final_response()
    assert "".join(texts) == final.output_text == "Bạn đã nói: xin chào"
    events = await events_of(client, {"input": "Thời tiết?", "tools": [WEATHER], "tool_choice": "required"})
    types = [e["type"] for e in events]
    assert types == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    done = events[4]
    assert done["name"] == "get_weather" and json.loads(done["arguments"])["city"]
    assert events[-1]["response"]["output"][0]["arguments"] == done["arguments"]


async def test_max_output_tokens_is_incomplete(client: httpx.AsyncClient) -> None:
    r = await client.post(URL, json={"input": "một hai ba bốn năm sáu", "max_output_tokens": 2})
    body = Response.model_validate(r.json())
    assert (
        body.status == "incomplete"
        and body.incomplete_details
        and body.incomplete_details.reason == "max_output_tokens"
    )
    assert body.output[0].status == "incomplete" and body.output_text == "Bạn đã "
    events = await events_of(client, {"input": "một hai ba", "max_output_tokens": 2})
    assert events[-1]["type"] == "response.incomplete" and events[-1]["response"]["status"] == "incomplete"
    # A forced call cut short: a function_call item with the arguments so far, status incomplete.
    r = await client.post(
        URL, json={"input": "x", "tools": [WEATHER], "tool_choice": "required", "max_output_tokens": 6}
    )
    (call,) = r.json()["output"]
    assert call["type"] == "function_call" and call["status"] == "incomplete"
    assert call["arguments"] == '{"city":"Tiết' and r.json()["status"] == "incomplete"


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"previous_response_id": "resp_1"}, "previous_response_id is not supported"),
        ({"store": True}, "store: true is not supported"),
        ({"background": True}, "background"),
        ({"tools": [{"type": "web_search"}]}, "tool type 'web_search' is not supported"),
        ({"input": [{"type": "reasoning", "summary": []}]}, "item type 'reasoning' is not supported"),
        ({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]}, "text only"),
        ({"input": []}, "input"),
        ({"truncation": "auto"}, "truncation"),
        ({"tool_choice": "required"}, "tool_choice is only allowed when tools are specified"),
        ({"max_output_tokens": 10**6}, "at most"),
    ],
)
async def test_refusals_are_400s_in_the_error_shape(
    client: httpx.AsyncClient, extra: dict, says: str
) -> None:
    r = await client.post(URL, json={"input": "x"} | extra)
    assert r.status_code == 400, r.text
    assert (
        set(r.json()["error"]) == {"message", "type", "param", "code"}
        and says in r.json()["error"]["message"]
    )


async def test_store_false_unknown_model_and_engine_limits(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assert (await client.post(URL, json={"input": "x", "store": False})).status_code == 200
    missing = await client.post(URL, json={"input": "x", "model": "gpt-4o"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"

    class NoTools(FakeEngine):
        supports_tools = False

    async for c in started_client(create_app(settings, engine=NoTools())):
        r = await c.post(URL, json={"input": "x", "tools": [WEATHER]})
        assert r.status_code == 400 and r.json()["error"]["param"] == "tools"


async def test_same_auth_and_metrics_as_chat(settings: Settings) -> None:
    settings.api_key = "s3cret-key-123"
    app = create_app(settings, engine=FakeEngine())
    async for c in started_client(app):
        assert (await c.post(URL, json={"input": "x"})).status_code == 401
        ok = await c.post(URL, json={"input": "x"}, headers={"Authorization": "Bearer s3cret-key-123"})
        assert ok.status_code == 200
        metrics = (await c.get("/metrics", headers={"Authorization": "Bearer s3cret-key-123"})).text
        assert (
            'finadvisor:request_success_total{finished_reason="stop",model_name="qwen2.5-coder-0.5b-instruct"} 1.0'
            in metrics
        )


async def test_errors_name_the_responses_parameters_and_the_body_limit_holds(
    client: httpx.AsyncClient,
) -> None:
    too_many = await client.post(URL, json={"input": "x", "max_output_tokens": 10**6})
    assert too_many.json()["error"]["param"] == "max_output_tokens"
    assert "max_output_tokens must be at most" in too_many.json()["error"]["message"]
    bad_schema = await client.post(
        URL, json={"input": "x", "text": {"format": {"type": "json_schema", "name": "x", "schema": {}}}}
    )
    assert bad_schema.status_code == 400 and bad_schema.json()["error"]["param"] == "text.format"
    forced = await client.post(
        URL, json={"input": "x", "tools": [WEATHER], "tool_choice": {"type": "function", "name": "nope"}}
    )
    assert forced.status_code == 400 and "'nope', which is not in tools" in forced.json()["error"]["message"]
    big = await client.post(URL, json={"input": "x" * 1_100_000})
    assert big.status_code == 413 and big.json()["error"]["code"] == "request_too_large"
