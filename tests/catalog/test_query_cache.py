"""Query embeddings are cached: repeated category names are embedded once; results are unchanged."""

from __future__ import annotations

import numpy as np

from finadvisor.catalog import CatalogIndex, HashEmbedder, demo_catalog_path, load_catalog
from finadvisor.history import SpendingHistory


class CountingEmbedder(HashEmbedder):
    """Records every text it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.query_texts: list[str] = []
        self.passages: list[str] = []

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        self.query_texts.extend(texts)
        return super().embed_queries(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        self.passages.extend(texts)
        return super().embed_passages(texts)


def test_repeated_categories_are_embedded_once() -> None:
    embedder = CountingEmbedder()
    index = CatalogIndex.build(load_catalog(demo_catalog_path()), embedder)
    a = SpendingHistory.model_validate(
        {
            "spending": [
                {"name": "Ăn uống", "amount": 100, "count": 1},
                {"name": "Hóa đơn điện", "amount": 50, "count": 1},
            ]
        }
    )
    b = SpendingHistory.model_validate({"spending": [{"name": "Ăn uống", "amount": 10, "count": 9}]})
    first = index.search_history(a, k=3)
    index.search_history(b, k=3)
    again = index.search_history(a, k=3)
    assert sorted(embedder.query_texts) == ["Hóa đơn điện", "Ăn uống"]
    assert [(h.service.link, round(h.score, 6)) for h in again] == [
        (h.service.link, round(h.score, 6)) for h in first
    ]


def test_oversized_catalog_file_is_refused(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from finadvisor.catalog import model, parse_catalog
    from finadvisor.errors import ValidationFailed

    monkeypatch.setattr(model, "MAX_CATALOG_SERVICES", 2)
    entries = [
        {"service": f"Dịch vụ {i}", "link": f"https://finadvisor.vn/dich-vu/{i}", "description": "Mô tả."}
        for i in range(3)
    ]
    with pytest.raises(ValidationFailed, match="3 entries; the limit is 2"):
        parse_catalog(entries)
    assert len(parse_catalog(entries[:2])) == 2


def _history(*names: str) -> SpendingHistory:
    return SpendingHistory.model_validate(
        {"spending": [{"name": n, "amount": 100, "count": 1} for n in names]}
    )


def test_vocabulary_is_saved_with_the_index_and_reopened_warm(tmp_path) -> None:  # type: ignore[no-untyped-def]
    services = load_catalog(demo_catalog_path())
    CatalogIndex.build(services, CountingEmbedder(), tmp_path / "idx", vocabulary=["Ăn uống", "Tiền điện"])
    assert (tmp_path / "idx" / "queries.npz").is_file()
    fresh = CountingEmbedder()
    reopened = CatalogIndex.open(tmp_path / "idx", fresh)
    reopened.search_history(_history("Ăn uống", "Tiền điện"), k=3)
    assert fresh.query_texts == []  # both names came from the saved file
    reopened.search_history(_history("Ăn uống", "Karaoke"), k=3)
    assert fresh.query_texts == ["Karaoke"]


def test_names_learned_from_requests_are_never_written_to_disk(tmp_path) -> None:  # type: ignore[no-untyped-def]
    index = CatalogIndex.build(
        load_catalog(demo_catalog_path()), HashEmbedder(), tmp_path / "idx", vocabulary=["Ăn uống"]
    )
    index.search_history(_history("Chuyển khoản cho Nguyễn Văn A 0912345678"), k=3)
    assert index.warm_queries(["Di chuyển"], persist=True) == 1
    with np.load(tmp_path / "idx" / "queries.npz", allow_pickle=False) as data:
        assert sorted(str(t) for t in data["texts"]) == ["Di chuyển", "Ăn uống"]


def test_query_cache_file_from_another_embedder_or_corrupt_is_ignored(tmp_path) -> None:  # type: ignore[no-untyped-def]
    services = load_catalog(demo_catalog_path())
    CatalogIndex.build(services, HashEmbedder(), tmp_path / "idx", vocabulary=["Ăn uống"])
    other = CountingEmbedder()
    other.name = "hash/other"
    from finadvisor.catalog import store

    assert store.load_queries(tmp_path / "idx", other.name, other.dim)[0] == []
    (tmp_path / "idx" / "queries.npz").write_bytes(b"PK\x03\x04 truncated")
    fresh = CountingEmbedder()
    index = CatalogIndex.open(tmp_path / "idx", fresh)  # a broken cache costs embedding time, never an error
    assert [h.service.link for h in index.search_history(_history("Ăn uống"), k=1)]
    assert fresh.query_texts == ["Ăn uống"]


def test_cached_results_are_dropped_when_the_catalog_changes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from finadvisor.catalog import Service

    index = CatalogIndex.build(load_catalog(demo_catalog_path()), HashEmbedder(), None)
    history = _history("Vé ca nhạc liveshow")
    before = index.search_history(history, k=1)[0].service
    new = Service(
        service="Vé ca nhạc liveshow",
        link="https://finadvisor.vn/dich-vu/ve-ca-nhac-liveshow",
        description="Vé ca nhạc liveshow",
    )
    index.add([new])
    assert index.search_history(history, k=1)[0].service.link == new.link
    index.remove([new.link])
    assert index.search_history(history, k=1)[0].service.link == before.link


def test_load_vocabulary(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import unicodedata

    import pytest

    from finadvisor.catalog.index import load_vocabulary
    from finadvisor.errors import ConfigError

    path = tmp_path / "names.txt"
    decomposed = unicodedata.normalize("NFD", "Ăn uống")
    path.write_text(f"# comment\n\n{decomposed}\nĂn uống\n  Di chuyển  \n", encoding="utf-8")
    assert load_vocabulary(path) == ["Ăn uống", "Di chuyển"]
    assert len(load_vocabulary()) >= 100  # the packaged list
    path.write_text("x" * 201, encoding="utf-8")
    with pytest.raises(ConfigError, match="line 1: a name longer than 200"):
        load_vocabulary(path)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_vocabulary(tmp_path / "missing.txt")


def test_sync_with_an_edited_catalog_embeds_only_what_changed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from finadvisor.catalog import Service

    entries = json.loads(demo_catalog_path().read_text(encoding="utf-8"))
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    embedder = CountingEmbedder()
    first = CatalogIndex.open_or_build(tmp_path / "idx", embedder, path)
    v0, n0 = first.version, len(first)
    assert len(embedder.passages) == n0

    gone, edited = entries[0], entries[1]
    edited = {**edited, "description": "Mô tả mới hoàn toàn: thanh toán tiền cước truyền hình cáp."}
    new = {
        "service": "Vé ca nhạc",
        "link": "https://finadvisor.vn/dich-vu/ve-ca-nhac",
        "description": "Đặt vé ca nhạc và liveshow",
    }
    path.write_text(json.dumps([edited, *entries[2:], new], ensure_ascii=False), encoding="utf-8")
    embedder.passages.clear()
    # without sync (no catalog configured explicitly) the index is used as it is
    assert len(CatalogIndex.open_or_build(tmp_path / "idx", embedder, path, sync=False)) == n0
    synced = CatalogIndex.open_or_build(tmp_path / "idx", embedder, path)
    assert sorted(embedder.passages) == sorted([Service(**edited).text(), Service(**new).text()])
    assert synced.version != v0 and len(synced) == n0
    assert synced.get(gone["link"]) is None and synced.get(new["link"]) is not None
    assert synced.get(edited["link"]).description == edited["description"]
    embedder.passages.clear()
    again = CatalogIndex.open_or_build(tmp_path / "idx", embedder, path)  # source recorded: nothing to do
    assert embedder.passages == [] and again.version == synced.version


def test_unaccented_names_share_the_vocabulary_embedding() -> None:
    embedder = CountingEmbedder()
    index = CatalogIndex.build(load_catalog(demo_catalog_path()), embedder, None, vocabulary=["Tiền điện"])
    embedder.query_texts.clear()
    index.search_history(_history("Tien  dien"), k=3)  # restored to "Tiền điện", already embedded
    assert embedder.query_texts == []
