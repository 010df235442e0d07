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
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from finadvisor.advisor.category_map import collapse, exact_key, fold
from finadvisor.errors import ConfigError

T = TypeVar("T")

TOPICS_PATH = Path(__file__).resolve().parent.parent / "data" / "spending_topics.csv"
LEARNED_PATH = TOPICS_PATH.with_name("learned_names.csv")
MEANS = frozenset({"transfer"})  # topics that say how money moved, not what it was for
LEADS = frozenset({"pets"})  # whose spending it was decides: "Khám bệnh cho mèo" is pet care, not health
FLOWS = ("spending", "saving", "investing", "income", "inflow")
EARNING_FLOWS = frozenset({"income", "inflow"})


@dataclass(frozen=True)
class Topic:
    id: str
    label: str  # a name of the category vocabulary (and of the category map)
    query: str  # descriptive Vietnamese text for retrieval
    includes: tuple[str, ...] = ()  # narrower topics a service may name instead ("utilities": electricity, …)
    flow: str = "spending"  # spending | saving | investing | income | inflow: how a wallet counts the line
    in_use: bool = False  # a wallet line of this topic is the app service's own transaction

    @property
    def earning(self) -> bool:
        """A topic of money coming in (read on earning lines only)."""
        return self.flow in EARNING_FLOWS


class TopicLexicon:
    def __init__(
        self, rows: list[tuple[Topic, list[str]]], learned: list[tuple[str, str]] | None = None
    ) -> None:
        self.topics = {t.id: t for t, _ in rows}
        # part of the advisor's cache key, like the category map's: an edited lexicon (or learned name) is new advice
        material = [[t.id, t.label, t.query, names, list(t.includes), t.flow, t.in_use] for t, names in rows]
        material.append(sorted(learned or []))  # type: ignore[arg-type]
        self.version = hashlib.sha256(json.dumps(material, ensure_ascii=False).encode()).hexdigest()[:16]
        phrases: dict[str, Topic] = {}
        accented: dict[str, Topic] = {}
        earning: dict[str, Topic] = {}
        # "=be": only a name that is exactly "Be" (the app), diacritics kept: never "Bé" nor "Đồ cho bé"
        self._whole: dict[str, Topic] = {}
        for topic, names in rows:
            for name in names:
                if topic.earning:  # money in is read apart: "Thưởng" is a bonus received, never a spending
                    if key := fold(name):
                        earning.setdefault(key, topic)
                elif name.startswith("="):
                    self._whole.setdefault(exact_key(name[1:]), topic)
                elif key := fold(name):
                    phrases.setdefault(key, topic)  # the first row naming a phrase keeps it
                    accented.setdefault(accent_key(name), topic)
        self._earning = _compiled(earning)
        # a descriptor squeezes words together ("CIRCLEK", "YouTubePremium"): phrases without their spaces
        self._squashed = {
            k.replace(" ", ""): t for k, t in phrases.items() if len(k.replace(" ", "")) >= SQUASHED_MIN
        }
        self._prefixes = sorted(
            ((k, t) for k, t in phrases.items() if " " not in k and len(k) >= PREFIX_MIN),
            key=lambda kv: -len(kv[0]),
        )
        self._phrase_topic = {k: t.id for k, t in phrases.items()}  # every folded spending phrase
        # readings by (kind, name): names repeat across requests
        self._memo: dict[tuple[str, str], object] = {}
        self._learned = {
            fold(name): self.topics[topic] for name, topic in learned or [] if topic in self.topics
        }
        # longest phrase first: "the gioi di dong" (electronics) before "di dong", "tien dien thoai" before
        # "tien dien"
        self._patterns = _compiled(phrases)
        # a catalog's own text is written with diacritics and is free text, where folding merges words a name
        # never holds together ("phổ thông" is not "phở"): it is matched with its diacritics
        self._accented = _compiled(accented)

    def __len__(self) -> int:
        return len(self.topics)

    def topic_of(self, name: str) -> Topic | None:
        return self._remembered("topic_of", name, self._topic_of)

    def _topic_of(self, name: str) -> Topic | None:
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
            found += [
                m
                for m in self._matches(folded, self._patterns, blank=False)
                if m.topic.id not in seen and not any(x.start <= m.start and m.end <= x.end for x in means)
            ]
        found.sort(key=lambda m: (m.topic.id not in LEADS, m.topic.id in MEANS))  # else longest phrase first
        return found[0].topic

    def _remembered(self, kind: str, name: str, compute: Callable[[str], T]) -> T:
        key = (kind, name)
        found = self._memo.get(key, _MISSING)  # one lookup: another thread may clear the memo in between
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        value = compute(name)
        if len(self._memo) >= MEMO_MAX:
            self._memo.clear()
        self._memo[key] = value
        return value

    def read(self, name: str) -> Reading:
        return self._remembered("read", name, self._read)

    def _read(self, name: str) -> Reading:
        """A spending name's topic, from the most to the least certain reading, or none (abstain rather than
        guess): a reviewed learned name; the lexicon on the whole name; a card or wallet descriptor taken apart
        (the merchant after the processor's ``*``, reference numbers dropped, words squeezed together read
        without their spaces: "MOMO*CIRCLEK 123" is a convenience store, "PAYPAL *STEAM" a game)."""
        folded = fold(name)
        if (learned := self._learned.get(folded)) is not None:
            return Reading(learned, "learned")
        if "*" not in name and (topic := self.topic_of(name)) is not None:
            return Reading(topic, "lexicon")
        parts = [p for p in (self._words(part) for part in reversed(name.split("*"))) if p]
        for part in parts:  # the merchant (after the processor) first
            if (topic := self.topic_of(part) or self._squeezed(part)) is not None:
                return Reading(topic, "descriptor" if len(parts) > 1 or part != folded else "lexicon")
        return Reading(None, "abstained")

    @staticmethod
    def _words(text: str) -> str:
        """A descriptor part without reference numbers and processor names."""
        words = [w for w in fold(text).split() if not _DIGITS.search(w)]
        while words:  # a processor named in one word ("momo") or two ("viettel money")
            if words[0] in _PROCESSORS:
                words = words[1:]
            elif "".join(words[:2]) in _PROCESSORS:
                words = words[2:]
            else:
                break
        return " ".join(words)

    def _squeezed(self, text: str) -> Topic | None:
        for word in text.split():
            if (topic := self._squashed.get(word)) is not None:
                return topic
        for word in text.split():
            for prefix, topic in self._prefixes:
                if len(word) > len(prefix) and word.startswith(prefix):
                    return topic
        return None

    def in_app(self, name: str) -> bool:
        return self._remembered("in_app", name, self._in_app)

    def _in_app(self, name: str) -> bool:
        """Does the line read as the app's own service being used ("Nạp tiền điện thoại", "Thanh toán hóa đơn
        điện", "Dịch vụ viễn thông", "Gửi tiết kiệm online") rather than money paid elsewhere: a bank transfer
        ("Chuyển khoản tiền điện EVN"), a merchant's own name ("EVN HCMC", "Vietnam Airlines") or an outside
        institution ("Gửi tiết kiệm Vietcombank")? An action word is needed, no bank transfer, and no proper name
        the lexicon does not know."""
        folded = fold(name)
        if not _IN_APP_ACTION.search(folded) or _BANK_TRANSFER.search(folded):
            return False
        known = {
            w
            for m in self._matches(folded, self._patterns, blank=False)
            for w in folded[m.start : m.end].split()
        }
        named = [w for w in name.split()[1:] if w[:1].isupper()]
        return all(fold(w) in known or fold(w) in self._phrase_topic for w in named)

    def phrase_topics(self) -> dict[str, str]:
        """Every folded spending phrase and its topic id (what a nearest-phrase reader compares a name with)."""
        return dict(self._phrase_topic)

    def earning_topic(self, name: str) -> Topic | None:
        return self._remembered("earning", name, self._earning_topic)

    def _earning_topic(self, name: str) -> Topic | None:
        """What an earning line is: income (salary, pension, wages, business revenue) or an inflow (money
        received, a top-up, a refund, cashback); None when it names neither."""
        found = self._matches(fold(name), self._earning)
        return found[0].topic if found else None

    def topics_in(self, text: str, *, accents: bool = False) -> list[Topic]:
        """Every topic named in the text, longest phrase first; a matched phrase is blanked before shorter
        ones are tried, so "Tiền điện thoại" is a phone top-up and not also an electricity bill. ``accents``:
        match with diacritics (a catalog's own text)."""
        return [m.topic for m in self._matches(*self._prepared(text, accents))]

    def lead_topic(self, text: str, *, accents: bool = False) -> Topic | None:
        """The topic named first in the text: what a description is about ("Đi chợ online: mua rau củ, …"),
        before what it mentions in passing."""
        found = self._matches(*self._prepared(text, accents))
        # whose spending it was decides here too: a pet shop's "spa" and "khám thú y" are pet care
        return min(found, key=lambda m: (m.topic.id not in LEADS, m.start)).topic if found else None

    def _prepared(self, text: str, accents: bool) -> tuple[str, list[tuple[re.Pattern[str], Topic]]]:
        return (accent_key(text), self._accented) if accents else (fold(text), self._patterns)

    @staticmethod
    def _matches(
        text: str, patterns: list[tuple[re.Pattern[str], Topic]], *, blank: bool = True
    ) -> list[_Match]:
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
class Reading:
    """What a spending name was read as, and how (``recommend --explain`` shows both)."""

    topic: Topic | None
    how: str  # learned | lexicon | descriptor | abstained


# the processor in a card or wallet descriptor ("MOMO*CIRCLEK 123", "PAYPAL *STEAM", "VNPAY*PETROLIMEX 24"): how
# the money moved, not what it paid for
_PROCESSORS = frozenset(
    {
        "momo",
        "zalopay",
        "zlp",
        "vnpay",
        "vnp",
        "paypal",
        "pp",
        "google",
        "apple",
        "applecom",
        "shopeepay",
        "airpay",
        "payoo",
        "sq",
        "sumup",
        "pos",
        "qr",
        "vietqr",
        "napas",
        "onepay",
        "viettelpay",
        "viettelmoney",  # two words are looked up joined ("viettel money")
        "stripe",
        "ecom",
        "vnpayqr",
        "ipn",
    }
)
_DIGITS = re.compile(r"\d")
_IN_APP_ACTION = re.compile(
    r"(?<!\w)(thanh toan|nap|mua|dong|dat|dich vu|gui|tich luy|chuyen tien|top up|topup|"
    r"pay|payment|bill payment)(?!\w)"
)
_BANK_TRANSFER = re.compile(r"(?<!\w)(chuyen khoan|ck|bank transfer|wire)(?!\w)")
_MISSING = object()
MEMO_MAX = 100_000  # remembered readings per lexicon (bounded: cleared when full)
SQUASHED_MIN = 5  # "circlek" is "circle k"; shorter squashed phrases collide with unrelated tokens
PREFIX_MIN = 6  # "youtubepremium" starts with "youtube"; shorter brand prefixes collide


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
_TONES = {
    "oá": "óa",
    "oà": "òa",
    "oả": "ỏa",
    "oã": "õa",
    "oạ": "ọa",
    "oé": "óe",
    "oè": "òe",
    "oẻ": "ỏe",
    "oẽ": "õe",
    "oẹ": "ọe",
    "uý": "úy",
    "uỳ": "ùy",
    "uỷ": "ủy",
    "uỹ": "ũy",
    "uỵ": "ụy",
}
_TONE_RE = re.compile("|".join(_TONES))


def accent_key(text: str) -> str:
    """Like ``fold`` (lower case, separators collapsed) but with the diacritics kept, one tone placement."""
    return collapse(_TONE_RE.sub(lambda m: _TONES[m.group()], unicodedata.normalize("NFC", text).lower()))


def load_topics(path: Path | None = None) -> TopicLexicon:
    """Read the CSV (header ``topic,label,query,names[,includes,flow,in_use]``; ``#`` comment lines); errors name the file
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
    lines = [
        (n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.startswith("#")
    ]
    reader = csv.reader([line for _, line in lines])
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header[:4]] != ["topic", "label", "query", "names"]:
        raise ConfigError(
            f"spending topics {path}: the first row must be the header 'topic,label,query,names'"
        )
    rows: list[tuple[Topic, list[str]]] = []
    for (number, _), row in zip(lines[1:], reader, strict=False):
        if len(row) < 4 or not all(cell.strip() for cell in row[:4]):
            raise ConfigError(f"spending topics {path}, line {number}: expected 'topic,label,query,names'")
        names = [n.strip() for n in row[3].split("|") if n.strip()]
        includes = tuple(t.strip() for t in (row[4] if len(row) > 4 else "").split("|") if t.strip())
        flow = (row[5].strip() if len(row) > 5 else "") or "spending"
        if flow not in FLOWS:
            raise ConfigError(
                f"spending topics {path}, line {number}: flow {flow!r} is not one of {', '.join(FLOWS)}"
            )
        in_use = (row[6].strip().lower() if len(row) > 6 else "") in ("yes", "true", "1")
        rows.append((Topic(row[0].strip(), row[1].strip(), row[2].strip(), includes, flow, in_use), names))
    known = {t.id for t, _ in rows}
    for topic, _ in rows:
        if unknown := [t for t in topic.includes if t not in known]:
            raise ConfigError(f"spending topics {path}: topic {topic.id!r} includes unknown topics {unknown}")
    return TopicLexicon(rows, load_learned(path.with_name(LEARNED_PATH.name), known))


def load_learned(path: Path, known: set[str]) -> list[tuple[str, str]]:
    """The reviewed learned names (``name,topic[,note]``): names no lexicon phrase covers, each given its topic
    by a person once. Missing file: none. A row naming an unknown topic is an error naming the line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ConfigError(f"learned names {path} cannot be read: {exc.strerror or exc}") from None
    lines = [
        (n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.startswith("#")
    ]
    rows: list[tuple[str, str]] = []
    for (number, _), row in zip(lines[1:], csv.reader([line for _, line in lines][1:]), strict=False):
        if len(row) < 2 or not row[0].strip() or row[1].strip() not in known:
            raise ConfigError(
                f"learned names {path}, line {number}: expected 'name,topic[,note]' with a topic of "
                f"the lexicon"
            )
        rows.append((row[0].strip(), row[1].strip()))
    return rows
