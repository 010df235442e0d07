"""Lexical tokens are Vietnamese words (pyvi), so different words that share a syllable do not match."""

from __future__ import annotations

import pytest

from finadvisor.catalog import lexical
from finadvisor.catalog.lexical import BM25, tokenize

pytest.importorskip("pyvi")


@pytest.fixture
def words():  # type: ignore[no-untyped-def]
    before = lexical.SEGMENTATION
    lexical.set_segmentation("words")
    yield
    lexical.set_segmentation(before)


@pytest.mark.parametrize(
    ("query", "other"),
    [
        ("du lịch", "Đặt lịch khám tại bệnh viện"),
        ("y tế", "vé máy bay quốc tế"),
        ("di chuyển", "chuyển tiền nhanh"),
    ],
)
def test_words_sharing_a_syllable_do_not_match(words, query: str, other: str) -> None:  # type: ignore[no-untyped-def]
    assert not set(tokenize(query)) & set(tokenize(other))
    lexical.set_segmentation("syllables")  # the old scheme matched them on one syllable
    assert set(tokenize(query)) & set(tokenize(other))


def test_bigrams_never_cross_a_word(words) -> None:  # type: ignore[no-untyped-def]
    assert "tiền_điện" in tokenize("tiền điện tháng này")
    assert "tiền_điện" not in tokenize("Nạp tiền điện thoại")
    bm = BM25()
    docs = [tokenize("Tra cứu và thanh toán tiền điện"), tokenize("Nạp tiền điện thoại trả trước")]
    for d in docs:
        bm.add(d)
    q = tokenize("tiền điện")
    assert bm.score(q, docs[0]) > bm.score(q, docs[1])


def test_unknown_segmentation_is_refused() -> None:
    with pytest.raises(ValueError, match="not available"):
        lexical.set_segmentation("morphemes")
