"""Issue 29: /v1/models and /v1/models/{id} as OpenAI serves them, and every /v1/embeddings input form
(strings, OpenAI token ids decoded with cl100k_base, arrays of them) with clear 400s, on the fake engine."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pytest

from finadvisor.server import openai_tokens

SENTENCES = [
    "Tôi muốn tiết kiệm tiền hàng tháng",
    "Pay the electricity bill before Friday",
    "Nạp tiền điện thoại",
]


async def test_models_one_entry_each_with_a_stable_created(client: httpx.AsyncClient) -> None:
    first = (await client.get("/v1/models")).json()["data"]
    ids = [m["id"] for m in first]
    assert ids[0] == "qwen2.5-coder-0.5b-instruct" and "qwen2.5-0.5b-instruct" not in ids
    assert ids[1].startswith("hash/") and len(ids) == len(set(ids)) == 2  # the embedding model is listed
    await asyncio.sleep(1.1)
    again = (await client.get("/v1/models")).json()["data"]
    assert [m["created"] for m in again] == [m["created"] for m in first]


async def test_retrieve_a_model_an_alias_and_an_unknown_id(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/models/qwen2.5-coder-0.5b-instruct")
    assert r.status_code == 200 and r.json()["id"] == "qwen2.5-coder-0.5b-instruct"
    assert r.json()["object"] == "model" and isinstance(r.json()["created"], int)
    alias = await client.get("/v1/models/qwen2.5-0.5b-instruct")
    assert alias.json()["id"] == "qwen2.5-coder-0.5b-instruct"
    embedder = (await client.get("/v1/models/hash")).json()["id"]  # the setting's short name
    assert embedder.startswith("hash/") and (await client.get(f"/v1/models/{embedder}")).status_code == 200
    missing = await client.get("/v1/models/gpt-4o")
    assert missing.status_code == 404
    assert (
        missing.json()["error"]["code"] == "model_not_found"
        and "gpt-4o" in missing.json()["error"]["message"]
    )


def _vectors(body: dict) -> np.ndarray:
    return np.array([d["embedding"] for d in body["data"]], dtype=np.float32)


async def test_token_ids_embed_as_the_text_they_stand_for(client: httpx.AsyncClient) -> None:
    encoding = openai_tokens._encoding()
    rows = [encoding.encode(s) for s in SENTENCES]
    text = (await client.post("/v1/embeddings", json={"input": SENTENCES})).json()
    arrays = (await client.post("/v1/embeddings", json={"input": rows})).json()
    single = (await client.post("/v1/embeddings", json={"input": rows[0]})).json()
    assert np.allclose(_vectors(text), _vectors(arrays), atol=1e-6)
    assert np.allclose(_vectors(text)[:1], _vectors(single), atol=1e-6)
    assert arrays["usage"] == text["usage"]


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        ({"input": []}, "input is an empty list"),
        ({"input": ""}, "input is empty"),
        ({"input": "   "}, "input is empty"),
        ({"input": [[]]}, "empty list of token ids"),
        ({"input": ["a", 1]}, "a list of token ids"),
        ({"input": [1.5]}, "a list of token ids"),
        ({"input": [-1]}, "must not be negative"),
        ({"input": [100265]}, "not in cl100k_base"),
        ({"input": {"text": "x"}}, "input must be a string"),
    ],
)
async def test_bad_inputs_are_400s_that_say_why(client: httpx.AsyncClient, payload: dict, says: str) -> None:
    r = await client.post("/v1/embeddings", json=payload)
    assert r.status_code == 400, r.text
    assert says in r.json()["error"]["message"] and r.json()["error"]["param"] == "input"


async def test_a_vocabulary_that_cannot_load_is_a_400_naming_the_form(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing() -> None:
        raise ImportError("No module named 'tiktoken'")

    monkeypatch.setattr(openai_tokens, "_encoding", missing)
    r = await client.post("/v1/embeddings", json={"input": [[9906, 1917]]})
    assert r.status_code == 400 and "arrays of token ids" in r.json()["error"]["message"]
    assert (await client.post("/v1/embeddings", json={"input": "still fine as text"})).status_code == 200


async def test_model_must_name_the_served_embedder(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/v1/models")).json()["data"][-1]["id"]
    for name in (listed, "hash", None):
        body = {"input": "x"} | ({"model": name} if name else {})
        r = await client.post("/v1/embeddings", json=body)
        assert r.status_code == 200 and r.json()["model"] == listed
    wrong = await client.post("/v1/embeddings", json={"input": "x", "model": "text-embedding-3-small"})
    assert wrong.status_code == 404 and wrong.json()["error"]["code"] == "model_not_found"
    assert listed in wrong.json()["error"]["message"]
