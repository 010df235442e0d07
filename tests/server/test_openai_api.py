"""The OpenAI-compatible API on the fake engine: shapes, streaming, errors, auth, limits, metrics."""

from __future__ import annotations

import json

import httpx
import pytest

from finadvisor.engines.fake import FakeEngine
from finadvisor.server import create_app
from finadvisor.settings import Settings
from tests.helpers import started_client

CHAT = "/v1/chat/completions"


def msg(text: str = "xin chào") -> dict:
    return {"messages": [{"role": "user", "content": text}], "max_tokens": 16}


async def test_chat_completion_shape_and_usage(client: httpx.AsyncClient) -> None:
    r = await client.post(CHAT, json=msg("một hai ba"))
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Bạn đã nói: một hai ba"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 6, "total_tokens": 9}


async def test_streaming_ends_with_done_and_reassembles(client: httpx.AsyncClient) -> None:
    body = msg("a b c") | {"stream": True, "stream_options": {"include_usage": True}}
    async with client.stream("POST", CHAT, json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line async for line in r.aiter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line[6:]) for line in lines[:-1]]
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert text == "Bạn đã nói: a b c"
    finishes = [e["choices"][0]["finish_reason"] for e in events if e["choices"]]
    assert finishes[-1] == "stop" and all(f is None for f in finishes[:-1])
    assert events[-1]["choices"] == [] and events[-1]["usage"]["completion_tokens"] == 6


async def test_json_schema_is_passed_to_engine(client: httpx.AsyncClient, fake_engine: FakeEngine) -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string", "enum": ["x", "y"]}},
        "required": ["a"],
    }
    body = msg() | {
        "response_format": {"type": "json_schema", "json_schema": {"name": "t", "schema": schema}}
    }
    r = await client.post(CHAT, json=body)
    assert r.status_code == 200
    assert json.loads(r.json()["choices"][0]["message"]["content"]) == {"a": "x"}
    assert fake_engine.calls[-1].json_schema == schema


async def test_max_tokens_truncates_with_length(client: httpx.AsyncClient) -> None:
    r = await client.post(CHAT, json=msg("một hai ba bốn năm") | {"max_tokens": 2})
    assert r.json()["choices"][0]["finish_reason"] == "length"
    assert r.json()["usage"]["completion_tokens"] == 2


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [], "max_tokens": 5}, "messages"),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": -1}, "max_tokens"),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 10**6}, "max_tokens"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages.0.role"),
        ({"messages": "hello"}, "messages"),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": 5}, "temperature"),
        (
            {"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema"}},
            "response_format",
        ),
        (
            {
                "messages": [{"role": "user", "content": "x"}],
                "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
            },
            "response_format",
        ),
    ],
)
async def test_bad_input_is_400_in_openai_shape(client: httpx.AsyncClient, body: dict, param: str) -> None:
    r = await client.post(CHAT, json=body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["type"] == "invalid_request_error"
    assert (err["param"] or "").startswith(param)


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    r = await client.post(CHAT, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "the request body is not valid JSON"


async def test_unknown_model_is_404(client: httpx.AsyncClient) -> None:
    r = await client.post(CHAT, json=msg() | {"model": "gpt-9"})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "model_not_found"
    assert "qwen2.5-coder-0.5b-instruct" in r.json()["error"]["message"]


async def test_body_over_limit_is_413(client: httpx.AsyncClient) -> None:
    r = await client.post(CHAT, json=msg("x" * 1_100_000))
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "request_too_large"


async def test_models_lists_base_and_adapters(settings: Settings) -> None:
    app = create_app(settings, engine=FakeEngine(adapters=["faq"]))
    async for c in started_client(app):
        ids = [m["id"] for m in (await c.get("/v1/models")).json()["data"]]
        assert ids[:2] == ["qwen2.5-coder-0.5b-instruct", "faq"] and ids[2].startswith(
            "hash/"
        )  # + the embedder
        r = await c.post(CHAT, json=msg() | {"model": "faq"})
        assert r.status_code == 200
        assert app.state.llm.engine.calls[-1].adapter == "faq"


async def test_api_key_guards_v1_but_not_health(settings: Settings) -> None:
    settings.api_key = "s3cret-key-123"
    app = create_app(settings, engine=FakeEngine())
    async for c in started_client(app):
        assert (await c.get("/health")).status_code == 200
        r = await c.post(CHAT, json=msg())
        assert r.status_code == 401
        assert "s3cret" not in r.text
        assert (await c.post(CHAT, json=msg(), headers={"Authorization": "Bearer wrong"})).status_code == 401
        ok = await c.post(CHAT, json=msg(), headers={"Authorization": "Bearer s3cret-key-123"})
        assert ok.status_code == 200


async def test_health_is_503_while_loading(settings: Settings) -> None:
    engine = FakeEngine(start_delay_s=0.3)
    app = create_app(settings, engine=engine)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            r = await c.get("/health")
            assert r.status_code == 503 and r.json()["status"] == "loading"
            busy = await c.post(CHAT, json=msg())
            assert busy.status_code == 503 and "Retry-After" in busy.headers
            import asyncio

            await asyncio.sleep(0.5)
            assert (await c.get("/health")).status_code == 200


async def test_metrics_exposes_vllm_style_names(client: httpx.AsyncClient) -> None:
    await client.post(CHAT, json=msg("a b"))
    text = (await client.get("/metrics")).text
    for name in [
        "finadvisor:num_requests_running",
        "finadvisor:num_requests_waiting",
        "finadvisor:prompt_tokens_total",
        "finadvisor:generation_tokens_total",
        "finadvisor:time_to_first_token_seconds_bucket",
        "finadvisor:inter_token_latency_seconds_bucket",
        "finadvisor:e2e_request_latency_seconds_bucket",
    ]:
        assert name in text, name
    assert (
        'finadvisor:request_success_total{finished_reason="stop",model_name="qwen2.5-coder-0.5b-instruct"} 1.0'
        in text
    )
    assert 'finadvisor:generation_tokens_total{model_name="qwen2.5-coder-0.5b-instruct"} 5.0' in text
