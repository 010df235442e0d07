"""The figures each catalog service states (a yield, a cashback or discount rate, a cap, a fee), read once from its
description into a file operators review, and the benefit in đồng they make computable for one user (issue 24,
item 1).

    facts = CatalogFacts.for_index(index)              # <index_dir>/service_facts.csv, written when it changes
    benefit = estimate(pick, history_facts, before, facts)   # Benefit(kind="cashback", amount=170000, ...) or None

A service whose description states no figure gets none: nothing is guessed. The file has one row per figure
(``link, kind, value, unit, cap, cap_per, up_to, reviewed, source``); a link with a row marked ``reviewed`` keeps
exactly its reviewed rows on every rebuild (a reviewed row of kind ``none`` means "no figure"), other links are
read again from the catalog. An estimate is always a month's amount of this user's history times the stated rate,
capped by the stated cap and rounded to the nearest 1.000 đ; the wording (``wording.benefit_sentence``) says it
is an estimate ("khoảng").
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from finadvisor.advisor.evidence import CategoryFact, Facts, Pick
from finadvisor.advisor.ranker import is_debt
from finadvisor.catalog import Service

if TYPE_CHECKING:
    from finadvisor.catalog import CatalogIndex

log = logging.getLogger("finadvisor.advisor")

FACTS_FILE = "service_facts.csv"
COLUMNS = ("link", "kind", "value", "unit", "cap", "cap_per", "up_to", "reviewed", "source")
ROUND_TO = 1_000  # estimates are stated to the nearest 1.000 đ
KINDS = ("yield", "cashback", "discount", "promo", "loan_rate", "fee", "none")

_NUM = r"(\d+(?:[.,]\d{1,2})?)"
_GAP = r"[^\d%.;:,()]{0,30}?"  # a few words between the keyword and its figure, never across a clause
_RATE = re.compile(
    rf"(?P<kw>lãi suất|lợi suất|sinh lời|lãi|hoàn tiền|cashback|hoàn|chiết khấu|giảm giá|giảm|tiết kiệm)"
    rf"(?P<gap>{_GAP})\s*{_NUM}\s*%(?P<year>\s*(?:/\s*năm|một năm|mỗi năm|một\s*năm))?",
    re.I,
)
_CAP = re.compile(
    r"tối đa\s*(\d{1,3}(?:[.,]\d{3})+|\d+)\s*(triệu|nghìn|ngàn|k|đồng|đ|vnđ)\b"
    r"(?:\s*(?:/|mỗi|một)\s*(tháng|giao dịch|đơn hàng|đơn|lần|ngày|năm))?",
    re.I,
)
_FEE = re.compile(r"\b(?:phí|cước)\s*(?:chỉ\s*)?(\d{1,3}(?:[.,]\d{3})+|\d+)\s*(đồng|đ)\b", re.I)
_CREDIT = re.compile(r"\b(vay|trả góp|trả sau|tín dụng|ứng lương|ứng trước)\b", re.I)
_YIELD_WORDS = re.compile(r"\b(lãi suất|lợi suất|sinh lời)\b", re.I)
# a discount that holds only sometimes: first ride, first month, on Tuesdays, at weekends, for new users
_CONDITION = re.compile(
    r"\b(đầu tiên|lần đầu|tháng đầu|chuyến đầu|đơn đầu|vào thứ|thứ (?:hai|ba|tư|năm|sáu|bảy)|"
    r"chủ nhật|cuối tuần|khung giờ|giờ vàng|khách hàng mới|người dùng mới)\b",
    re.I,
)
_CLAUSE_START = re.compile(r"(^|[.;:,!?]\s*|\b(?:và|được|nhận|với)\s+)$", re.I)
_UP_TO = re.compile(r"\b(đến|tới|lên đến|tối đa|up to)\b", re.I)
_SCALE = {"triệu": 1_000_000, "nghìn": 1_000, "ngàn": 1_000, "k": 1_000}
_KIND = {
    "lãi suất": "yield",
    "lợi suất": "yield",
    "sinh lời": "yield",
    "lãi": "yield",
    "hoàn tiền": "cashback",
    "cashback": "cashback",
    "hoàn": "cashback",
    "chiết khấu": "discount",
    "giảm giá": "discount",
    "giảm": "discount",
    "tiết kiệm": "discount",
}


@dataclass(frozen=True)
class ServiceFact:
    """One figure a service states. ``value``: percent points (``unit`` "%" or "%/năm") or đồng ("đ");
    ``cap``: the most it pays back (đồng, 0 = no cap) per ``cap_per``; ``up_to``: the figure is a maximum."""

    link: str
    kind: str
    value: float
    unit: str
    cap: float = 0.0
    cap_per: str = ""
    up_to: bool = False
    reviewed: bool = False
    source: str = ""

    def row(self) -> dict[str, str]:
        return {
            "link": self.link,
            "kind": self.kind,
            "value": _plain(self.value),
            "unit": self.unit,
            "cap": _plain(self.cap) if self.cap else "",
            "cap_per": self.cap_per,
            "up_to": "yes" if self.up_to else "",
            "reviewed": "yes" if self.reviewed else "",
            "source": self.source,
        }


def _plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _number(raw: str) -> float:
    """ "4,5" and "4.2" are decimals; "100.000" is a grouped whole number."""
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", raw):
        return float(re.sub(r"[.,]", "", raw))
    return float(raw.replace(",", "."))


def extract(service: Service) -> list[ServiceFact]:
    """The figures ``service``'s description states, in order; none when it states none."""
    text = " ".join(service.description.split())
    credit = bool(_CREDIT.search(service.service) or _CREDIT.search(text))
    out: list[ServiceFact] = []
    for m in _RATE.finditer(text):
        value = _number(m.group(3))
        kind = _KIND[m.group("kw").lower()]
        if m.group("year") or _YIELD_WORDS.search(m.group("gap")):
            kind = "yield"  # "tiết kiệm sinh lời đến 4,5%/năm" is a yield, not a discount
        if kind == "yield" and credit:
            kind = "loan_rate"  # the price of credit, never a gain
        if value <= 0 or value > 100:
            continue
        sentence_end = re.search(r"[.;]\s|$", text[m.end() :])
        rest = text[m.end() : m.end() + (sentence_end.start() if sentence_end else 0)]
        cap, per = 0.0, ""
        if kind in ("cashback", "discount") and (c := _CAP.search(rest)) is not None:
            unit = c.group(2).lower()
            cap, per = _number(c.group(1)) * _SCALE.get(unit, 1), (c.group(3) or "").lower()
        if kind == "discount" and (_CONDITION.search(rest) or not _CLAUSE_START.search(text[: m.start()])):
            kind = "promo"  # "giảm 15% chuyến đầu tiên", "combo bắp nước giảm 30%": not on the whole spending
        unit = "%/năm" if kind in ("yield", "loan_rate") else "%"
        up_to = bool(_UP_TO.search(m.group("gap")))
        source = text[m.start() : m.end() + len(rest)].strip()[:160]
        out.append(ServiceFact(service.link, kind, value, unit, cap, per, up_to, False, source))
    for m in _FEE.finditer(text):
        out.append(ServiceFact(service.link, "fee", _number(m.group(1)), "đ", source=m.group(0)))
    return out


def _read_rows(path: Path) -> list[ServiceFact]:
    rows: list[ServiceFact] = []
    with path.open(encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            try:
                kind = (r.get("kind") or "").strip()
                if kind not in KINDS:
                    raise ValueError(f"kind {kind!r}")
                rows.append(
                    ServiceFact(
                        link=(r.get("link") or "").strip(),
                        kind=kind,
                        value=float(r.get("value") or 0),
                        unit=(r.get("unit") or "").strip(),
                        cap=float(r.get("cap") or 0),
                        cap_per=(r.get("cap_per") or "").strip().lower(),
                        up_to=(r.get("up_to") or "").strip().lower() in ("yes", "true", "1", "x"),
                        reviewed=(r.get("reviewed") or "").strip().lower() in ("yes", "true", "1", "x"),
                        source=(r.get("source") or "").strip(),
                    )
                )
            except ValueError as exc:
                log.warning("%s: row %s ignored (%s)", path, dict(r), exc)
    return rows


def _render(rows: Iterable[ServiceFact]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for fact in rows:
        writer.writerow(fact.row())
    return buf.getvalue()


class CatalogFacts:
    """The figures of every service of one catalog, by link."""

    def __init__(self, rows: Iterable[ServiceFact] = ()) -> None:
        self.rows = list(rows)
        self.by_link: dict[str, list[ServiceFact]] = {}
        for fact in self.rows:
            if fact.kind != "none":
                self.by_link.setdefault(fact.link, []).append(fact)
        self.version = hashlib.sha256(_render(self.rows).encode()).hexdigest()[:16]

    def of(self, link: str) -> list[ServiceFact]:
        return self.by_link.get(link, [])

    @classmethod
    def extract_all(cls, services: Iterable[Service], reviewed: Sequence[ServiceFact] = ()) -> CatalogFacts:
        """Every service's figures; a link with reviewed rows keeps those rows instead."""
        kept: dict[str, list[ServiceFact]] = {}
        for fact in reviewed:
            if fact.reviewed:
                kept.setdefault(fact.link, []).append(fact)
        rows: list[ServiceFact] = []
        for service in sorted(services, key=lambda s: s.link):
            rows += kept.get(service.link) or extract(service)
        return cls(rows)

    @classmethod
    def for_services(cls, services: Iterable[Service], folder: Path | None) -> CatalogFacts:
        """Read ``<folder>/service_facts.csv`` (reviewed rows win), extract the rest from the catalog, and write
        the file back when it changed. A read-only folder still gets the figures, only not the file."""
        path = folder / FACTS_FILE if folder is not None else None
        previous = _read_rows(path) if path is not None and path.is_file() else []
        facts = cls.extract_all(services, previous)
        if path is not None:
            text = _render(facts.rows)
            try:
                if not path.is_file() or path.read_text(encoding="utf-8") != text:
                    tmp = path.with_suffix(".csv.tmp")
                    tmp.write_text(text, encoding="utf-8")
                    tmp.replace(path)
            except OSError as exc:
                log.warning("could not write %s (%s); the catalog's figures are used without it", path, exc)
        return facts

    @classmethod
    def for_index(cls, index: CatalogIndex) -> CatalogFacts:
        return cls.for_services(index.services(), index.index_dir)


@dataclass(frozen=True)
class Benefit:
    """What one service's stated figure is worth to this user in a month, as an estimate."""

    fact: ServiceFact
    base: float  # the user's monthly amount the rate applies to (a spending line, or the money left unspent)
    amount: int  # the estimate, capped and rounded to ROUND_TO
    capped: bool  # the catalog's cap set the amount


def stated_category(pick: Pick, before: Sequence[Pick] = ()) -> CategoryFact | None:
    """The spending line a reason's fact clause names (the same choice as ``wording.fact_clause``)."""
    cats = pick.categories()
    said = {c.name for p in before for c in p.categories()[:1]}
    fresh = [c for c in cats if c.name not in said]
    return fresh[0] if fresh else (cats[0] if cats else None)


def _rounded(value: float) -> int:
    return int(ROUND_TO * round(value / ROUND_TO))


def estimate(
    pick: Pick, facts: Facts, before: Sequence[Pick] = (), catalog: CatalogFacts | None = None
) -> Benefit | None:
    """The benefit in đồng of ``pick``'s first usable figure for this history, or None: a yield on the money
    left unspent (surplus × rate / 12; "lãi suất đến 5,6%" is the best term's rate, said as "tối đa"), a flat
    cashback or discount on the spending line its reason names (amount × rate), capped by the stated cap. None
    when the service states no figure, the figure does not fit this kind of evidence, a discount or cashback is
    only "up to" ("giảm đến 50%": a best case, not an estimate), or the estimate rounds to under 1.000 đ."""
    if catalog is None:
        return None
    kinds = {e.kind for e in pick.evidence}
    for fact in catalog.of(pick.service.link):
        if fact.kind == "yield" and "surplus" in kinds and facts.earned > 0 and facts.surplus > 0:
            base = facts.surplus
            value = base * fact.value / 100 / 12
        elif fact.kind in ("cashback", "discount") and "category" in kinds and not fact.up_to:
            # "giảm đến 50%" is the best case of a few offers, not a rate on the whole spending: no estimate
            line = stated_category(pick, before)
            if line is None or is_debt(line.name):
                continue
            base = line.amount
            value = base * fact.value / 100
        else:
            continue
        capped = False
        if fact.cap > 0 and value >= fact.cap:
            if fact.cap_per not in ("", "tháng"):
                continue  # a cap per transaction, day or year binds: no monthly figure the audit could trace
            value, capped = fact.cap, True
        amount = int(value) if capped else _rounded(value)
        if amount >= ROUND_TO:
            return Benefit(fact, base, amount, capped)
    return None
