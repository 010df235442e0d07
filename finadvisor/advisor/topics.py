"""Spending topics: what kind of spending a category name is, whatever the catalog (issue 13).

Spending APIs, banks and people name the same spending many ways: "Ăn uống", "an uong", "FOOD_AND_BEVERAGE",
"Highlands Coffee", "GrabFood". Retrieval over a catalog does poorly on bare merchant names ("Grab" came back as
a health service, "Petrolimex" as cinema tickets), and the reviewed category map knows only the vocabulary's
names. The lexicon (``finadvisor/data/spending_topics.csv``, one row per topic, edited by people) gives each
name a topic; the topic then has a vocabulary label (asked of the category map) and a descriptive query (asked
of retrieval, for catalogs the map does not cover).

    topic = load_topics().topic_of("Highlands Coffee Vincom")   # -> Topic("food", "Ăn uống", "ăn uống, …")
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from finadvisor.advisor.category_map import collapse, exact_key, fold
from finadvisor.errors import ConfigError

TOPICS_PATH = Path(__file__).resolve().parent.parent / "data" / "spending_topics.csv"
MEANS = frozenset({"transfer"})  # topics that say how money moved, not what it was for
LEADS = frozenset({"pets"})  # whose spending it was decides: "Khám bệnh cho mèo" is pet care, not health


@dataclass(frozen=True)
class Topic:
    id: str
    label: str  # a name of the category vocabulary (and of the category map)
    query: str  # descriptive Vietnamese text for retrieval
    includes: tuple[str, ...] = ()  # narrower topics a service may name instead ("utilities": electricity, …)


class TopicLexicon:
    def __init__(self, rows: list[tuple[Topic, list[str]]]) -> None:
        self.topics = {t.id: t for t, _ in rows}
        # part of the advisor's cache key, like the category map's: an edited lexicon is new advice
        material = [[t.id, t.label, t.query, names, list(t.includes)] for t, names in rows]
        self.version = hashlib.sha256(json.dumps(material, ensure_ascii=False).encode()).hexdigest()[:16]
        phrases: dict[str, Topic] = {}
        accented: dict[str, Topic] = {}
        # "=be": only a name that is exactly "Be" (the app), diacritics kept: never "Bé" nor "Đồ cho bé"
        self._whole: dict[str, Topic] = {}
        for topic, names in rows:
            for name in names:
                if name.startswith("="):
                    self._whole.setdefault(exact_key(name[1:]), topic)
                elif key := fold(name):
                    phrases.setdefault(key, topic)  # the first row naming a phrase keeps it
                    accented.setdefault(accent_key(name), topic)
        # longest phrase first: "the gioi di dong" (electronics) before "di dong", "tien dien thoai" before
        # "tien dien"
        self._patterns = _compiled(phrases)
        # a catalog's own text is written with diacritics and is free text, where folding merges words a name
        # never holds together ("phổ thông" is not "phở"): it is matched with its diacritics
        self._accented = _compiled(accented)

    def __len__(self) -> int:
        return len(self.topics)

    def topic_of(self, name: str) -> Topic | None:
        """The topic of the longest lexicon phrase found as whole words in the folded name (None if none). A
        way of paying yields to what was paid for: "Chuyển khoản tiền nhà" is rent, "Chuyển khoản học thêm
        cho con" education, even where the phrases overlap ("chuyển tiền", "tiền nhà"); a name whose only other
        phrase lies inside the transfer's ("Chuyển tiền cho gia đình" holds "tiền chợ" once folded) is a
        transfer. An animal's spending is pet care ("Khám bệnh cho mèo")."""
        if (whole := self._whole.get(exact_key(name))) is not None:
            return whole
        folded = fold(name)
        found = self._matches(folded, self._patterns)
        if not found:
            return None
        if found[0].topic.id in MEANS:
            means = [m for m in found if m.topic.id in MEANS]
            seen = {m.topic.id for m in found}
            found += [m for m in self._matches(folded, self._patterns, blank=False) if m.topic.id not in seen
                      and not any(x.start <= m.start and m.end <= x.end for x in means)]
        found.sort(key=lambda m: (m.topic.id not in LEADS, m.topic.id in MEANS))  # else longest phrase first
        return found[0].topic

    def topics_in(self, text: str, *, accents: bool = False) -> list[Topic]:
        """Every topic named in the text, longest phrase first; a matched phrase is blanked before shorter
        ones are tried, so "Tiền điện thoại" is a phone top-up and not also an electricity bill. ``accents``:
        match with diacritics (a catalog's own text)."""
        return [m.topic for m in self._matches(*self._prepared(text, accents))]

    def lead_topic(self, text: str, *, accents: bool = False) -> Topic | None:
        """The topic named first in the text: what a description is about ("Đi chợ online: mua rau củ, …"),
        before what it mentions in passing."""
        found = self._matches(*self._prepared(text, accents))
        return min(found, key=lambda m: m.start).topic if found else None

    def _prepared(self, text: str, accents: bool) -> tuple[str, list[tuple[re.Pattern[str], Topic]]]:
        return (accent_key(text), self._accented) if accents else (fold(text), self._patterns)

    @staticmethod
    def _matches(text: str, patterns: list[tuple[re.Pattern[str], Topic]], *,
                 blank: bool = True) -> list[_Match]:
        """One match per topic, in the order of its longest phrase found, at its earliest position."""
        found: dict[str, _Match] = {}
        for pattern, topic in patterns:
            first = pattern.search(text)
            if first is None:
                continue
            if topic.id not in found or first.start() < found[topic.id].start:
                found[topic.id] = _Match(topic, first.start(), first.end())
            if blank:
                text = pattern.sub(lambda m: " " * len(m.group()), text)  # blanked, positions kept
        return list(found.values())


@dataclass(frozen=True)
class _Match:
    topic: Topic
    start: int
    end: int


def _compiled(phrases: dict[str, Topic]) -> list[tuple[re.Pattern[str], Topic]]:
    ordered = sorted(phrases.items(), key=lambda kv: (-len(kv[0]), kv[0]))
    return [(re.compile(rf"(?<!\w){re.escape(k)}(?!\w)"), t) for k, t in ordered]


# the old and the new place of the tone mark on "oa", "oe", "uy" ("hoá"/"hóa", "khoẻ"/"khỏe", "thuỷ"/"thủy"):
# catalogs write both
_TONES = {"oá": "óa", "oà": "òa", "oả": "ỏa", "oã": "õa", "oạ": "ọa", "oé": "óe", "oè": "òe", "oẻ": "ỏe",
          "oẽ": "õe", "oẹ": "ọe", "uý": "úy", "uỳ": "ùy", "uỷ": "ủy", "uỹ": "ũy", "uỵ": "ụy"}
_TONE_RE = re.compile("|".join(_TONES))


def accent_key(text: str) -> str:
    """Like ``fold`` (lower case, separators collapsed) but with the diacritics kept, one tone placement."""
    return collapse(_TONE_RE.sub(lambda m: _TONES[m.group()], unicodedata.normalize("NFC", text).lower()))


def load_topics(path: Path | None = None) -> TopicLexicon:
    """Read the CSV (header ``topic,label,query,names[,includes]``; ``#`` comment lines); errors name the file
    and line."""
    path = Path(path) if path else TOPICS_PATH
    return _load(str(path))


@lru_cache(maxsize=8)
def _load(path_text: str) -> TopicLexicon:
    path = Path(path_text)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"spending topics {path} cannot be read: {exc.strerror or exc}") from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.startswith("#")]
    reader = csv.reader([line for _, line in lines])
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header[:4]] != ["topic", "label", "query", "names"]:
        raise ConfigError(f"spending topics {path}: the first row must be the header 'topic,label,query,names'")
    rows: list[tuple[Topic, list[str]]] = []
    for (number, _), row in zip(lines[1:], reader, strict=False):
        if len(row) < 4 or not all(cell.strip() for cell in row[:4]):
            raise ConfigError(f"spending topics {path}, line {number}: expected 'topic,label,query,names'")
        names = [n.strip() for n in row[3].split("|") if n.strip()]
        includes = tuple(t.strip() for t in (row[4] if len(row) > 4 else "").split("|") if t.strip())
        rows.append((Topic(row[0].strip(), row[1].strip(), row[2].strip(), includes), names))
    known = {t.id for t, _ in rows}
    for topic, _ in rows:
        if unknown := [t for t in topic.includes if t not in known]:
            raise ConfigError(f"spending topics {path}: topic {topic.id!r} includes unknown topics {unknown}")
    return TopicLexicon(rows)
