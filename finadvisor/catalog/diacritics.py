"""Restoring Vietnamese diacritics in queries typed without them ("tien dien" -> "tiền điện").

Many users, and some spending APIs, write Vietnamese without diacritics. The embedder then sees near-nonsense
(recall@5 on the dev set falls from 0.96 to 0.59 when its category names are stripped), and folding the catalog
instead would merge unrelated words ("điện" electricity, "diễn" perform). So the query is restored instead, from
the words the index already knows: the catalog's service texts and the operator's category vocabulary. Each
folded syllable pair and syllable maps to its most frequent accented form; pairs win over single syllables
because they carry the context ("dien thoai" -> "điện thoại", "tien dien" -> "tiền điện").

A query is only touched when it has no non-ASCII letter at all and most of its words are known folded
syllables, so English names ("Groceries", "FOOD_AND_BEVERAGE") pass through unchanged.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from collections import Counter, defaultdict

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
MIN_KNOWN_SHARE = 0.6  # share of a query's words that must be known folded syllables before restoring


@functools.lru_cache(maxsize=65_536)  # syllables repeat: Vietnamese has only a few thousand
def strip_diacritics(word: str) -> str:
    """A syllable without its marks (case kept): the key accented forms are counted under."""
    decomposed = unicodedata.normalize("NFD", word.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


class DiacriticRestorer:
    """Counts of accented forms per folded syllable and syllable pair, updated as texts come and go."""

    def __init__(self) -> None:
        self._uni: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._bi: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._lock = threading.Lock()

    def _update(self, text: str, sign: int, pairs: bool) -> None:
        words = _WORD.findall(unicodedata.normalize("NFC", text).lower())
        accented = [w for w in words if not w.isascii()]
        if not accented:
            return  # an unaccented text teaches nothing (and English would pollute the table)
        with self._lock:
            for w in words:
                self._uni[strip_diacritics(w)][w] += sign
            if pairs:
                for a, b in zip(words, words[1:], strict=False):
                    self._bi[f"{strip_diacritics(a)} {strip_diacritics(b)}"][f"{a} {b}"] += sign

    def add(self, text: str, *, pairs: bool = True) -> None:
        """Count ``text``'s accented syllables, and with ``pairs`` its syllable pairs: pairs are learnt from
        short texts (service names, category names) only, which keeps the table small for 100k services."""
        self._update(text, 1, pairs)

    def remove(self, text: str, *, pairs: bool = True) -> None:
        self._update(text, -1, pairs)

    def add_service(self, name: str, description: str) -> None:
        self.add(name)
        self.add(description, pairs=False)

    def remove_service(self, name: str, description: str) -> None:
        self.remove(name)
        self.remove(description, pairs=False)

    @staticmethod
    def _best(counts: Counter[str] | None) -> str | None:
        if not counts:
            return None
        form, n = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        return form if n > 0 else None

    def restore(self, text: str) -> str:
        """``text`` with diacritics restored, or unchanged when it already has some or is not Vietnamese-like.
        Case, digits and punctuation are kept ("Tien hoc ky 2" -> "Tiền học kỳ 2"); a pair is only read across
        plain spaces."""
        if not text.isascii():
            return text
        spans = list(_WORD.finditer(text))
        if not spans:
            return text
        words = [m.group().lower() for m in spans]
        with self._lock:
            known = sum(1 for w in words if self._best(self._uni.get(w)) is not None)
            if known < MIN_KNOWN_SHARE * len(words):
                return text
            restored: list[str] = []
            i = 0
            while i < len(words):
                joined = i + 1 < len(words) and text[spans[i].end() : spans[i + 1].start()].isspace()
                pair = self._best(self._bi.get(f"{words[i]} {words[i + 1]}")) if joined else None
                if pair is not None and len(pair.split(" ")) == 2:
                    restored.extend(pair.split(" "))
                    i += 2
                    continue
                restored.append(self._best(self._uni.get(words[i])) or words[i])
                i += 1
        out, last = [], 0
        for m, new in zip(spans, restored, strict=True):
            out.append(text[last : m.start()])
            out.append(_same_case(m.group(), new))
            last = m.end()
        out.append(text[last:])
        return "".join(out)


def _same_case(original: str, restored: str) -> str:
    if len(original) > 1 and original.isupper():
        return restored.upper()
    if original[:1].isupper():
        return restored[:1].upper() + restored[1:]
    return restored
