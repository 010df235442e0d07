"""POST /v1/completions on the fake engine: string and list prompts, streaming, stop, logprobs, refusals."""

from __future__ import annotations

import json

import httpx
import pytest

from finadvisor.engines.fake import FakeEngine

URL = "/v1/completions"


async def test_string_prompt(client: httpx.AsyncClient, fake_engine: FakeEngine) -> None:
    r = await client.post(URL, json={"prompt": "một hai", "max_tokens": 8, "stop": ["\n"], "temperature": 0})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "text_completion" and body["id"].startswith("cmpl-")
    assert body["choices"] == [
        {"text": "Bạn đã viết: một hai", "index": 0, "logprobs": None, "finish_reason": "stop"}
    ]
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 5, "total_tokens": 7}
    sent = fake_engine.calls[-1]
    assert sent.prompt == "một hai" and sent.stop == ["\n"] and sent.max_tokens == 8 and sent.strict


async def test_default_max_tokens_is_16_and_length_is_reported(client: httpx.AsyncClient) -> None:
    r = await client.post(URL, json={"prompt": " ".join(["x"] * 40)})
    assert r.json()["choices"][0]["finish_reason"] == "length"
    assert r.json()["usage"]["completion_tokens"] == 16


async def test_list_prompt_keeps_order(client: httpx.AsyncClient) -> None:
    r = await client.post(URL, json={"prompt": ["a", "b c", "d"], "max_tokens": 8})
    choices = r.json()["choices"]
    assert [c["index"] for c in choices] == [0, 1, 2]
    assert [c["text"] for c in choices] == ["Bạn đã viết: a", "Bạn đã viết: b c", "Bạn đã viết: d"]
    assert r.json()["usage"]["prompt_tokens"] == 4


async def test_stream_with_usage(client: httpx.AsyncClient) -> None:
    body = {"prompt": ["a", "b"], "max_tokens": 8, "stream": True, "stream_options": {"include_usage": True}}
    async with client.stream("POST", URL, json=body) as r:
        assert r.status_code == 200
        lines = [line async for line in r.aiter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line[6:]) for line in lines[:-1]]
    assert all(e["object"] == "text_completion" for e in events)
    texts: dict[int, str] = {}
    for e in events:
        for c in e["choices"]:
            texts[c["index"]] = texts.get(c["index"], "") + c["text"]
    assert texts == {0: "Bạn đã viết: a", 1: "Bạn đã viết: b"}
    finishes = [c["finish_reason"] for e in events for c in e["choices"] if c["finish_reason"]]
    assert finishes == ["stop", "stop"]
    assert events[-1]["choices"] == [] and events[-1]["usage"]["prompt_tokens"] == 2


async def test_legacy_logprobs_shape(client: httpx.AsyncClient) -> None:
    r = await client.post(URL, json={"prompt": "xin", "max_tokens": 8, "logprobs": 2})
    lp = r.json()["choices"][0]["logprobs"]
    assert "".join(lp["tokens"]) == "Bạn đã viết: xin"
    assert lp["token_logprobs"] == [FakeEngine.LOGPROB] * len(lp["tokens"])
    assert all(len(top) == 2 for top in lp["top_logprobs"])
    assert lp["text_offset"][0] == len("xin")
    assert lp["text_offset"][1] == len("xin") + len(lp["tokens"][0])


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"prompt": "x", "echo": True}, "echo"),
        ({"prompt": "x", "suffix": "y"}, "suffix"),
        ({"prompt": "x", "best_of": 3}, "best_of"),
        ({"prompt": [1, 2, 3]}, "prompt"),
        ({"prompt": []}, "prompt"),
        ({"prompt": "x", "logprobs": 9}, "logprobs"),
        ({"prompt": "x", "max_tokens": 10**6}, "max_tokens"),
        ({}, "prompt"),
    ],
)
async def test_refusals_are_400(client: httpx.AsyncClient, body: dict, needle: str) -> None:
    r = await client.post(URL, json=body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert needle in err["message"] or needle in (err["param"] or "")


async def test_unknown_model_is_404(client: httpx.AsyncClient) -> None:
    r = await client.post(URL, json={"prompt": "x", "model": "gpt-9"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
