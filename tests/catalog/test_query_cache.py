"""Query embeddings are cached: repeated category names are embedded once; results are unchanged."""

from __future__ import annotations

import numpy as np

from finadvisor.catalog import CatalogIndex, HashEmbedder, demo_catalog_path, load_catalog
from finadvisor.history import SpendingHistory


class CountingEmbedder(HashEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.query_texts: list[str] = []

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        self.query_texts.extend(texts)
        return super().embed_queries(texts)


def test_repeated_categories_are_embedded_once() -> None:
    embedder = CountingEmbedder()
    index = CatalogIndex.build(load_catalog(demo_catalog_path()), embedder)
    a = SpendingHistory.model_validate({"spending": [{"name": "Ăn uống", "amount": 100, "count": 1},
                                                     {"name": "Hóa đơn điện", "amount": 50, "count": 1}]})
    b = SpendingHistory.model_validate({"spending": [{"name": "Ăn uống", "amount": 10, "count": 9}]})
    first = index.search_history(a, k=3)
    index.search_history(b, k=3)
    again = index.search_history(a, k=3)
    assert sorted(embedder.query_texts) == ["Hóa đơn điện", "Ăn uống"]
    assert [(h.service.link, round(h.score, 6)) for h in again] == [(h.service.link, round(h.score, 6))
                                                                    for h in first]


def test_oversized_catalog_file_is_refused(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from finadvisor.catalog import model, parse_catalog
    from finadvisor.errors import ValidationFailed

    monkeypatch.setattr(model, "MAX_CATALOG_SERVICES", 2)
    entries = [{"service": f"Dịch vụ {i}", "link": f"https://finadvisor.vn/dich-vu/{i}", "description": "Mô tả."}
               for i in range(3)]
    with pytest.raises(ValidationFailed, match="3 entries; the limit is 2"):
        parse_catalog(entries)
    assert len(parse_catalog(entries[:2])) == 2
