"""An independent audit of one advisor answer: is every figure it states traceable, is every link in the catalog?

This is how the evals count "false statements", and it is written apart from ``faithfulness.py`` (the check that
gates what the advisor shows) on purpose, with a different method, so that the count is not the gate grading its
own output. The gate reads sentences: it looks for a category name next to an amount, topic words, copies of the
prompt. The audit ignores wording and works on numbers alone:

1. It reads every number in the summary and the reasons with its unit: money ("1.250.000 đ", "1,2 triệu",
   "500 nghìn", "3 tỷ"), percentages ("12%", "4,5%", "dưới 1%"), counts ("5 lần", "42 giao dịch") and bare
   numbers. Text that is a category name, a recommended service's name or that service's catalog description is
   removed first (a name such as "Khoản chi 2" carries no claim); digits glued to letters ("4G", "P2P") are
   identifiers, not figures.
2. It computes from the raw history, without the advisor's own reading of it, every value a true sentence could
   state: each line's amount and count; totals of the spending and of the money in, also without any one or two
   lines (the advisor leaves savings transfers out of spending and money that is not income out of income), and
   sums of any two or three lines; differences of those totals (money left, overspending); and shares, by
   family only: a line of such a total, money left (or overspent) or spending of the money in, a spending line
   of a group of two or three lines it belongs to. A total is never a share of another total.
3. A stated number is traceable when it equals such a value within the rounding its own format implies (an
   amount to the đồng, or to half the last digit shown in "1,2 triệu"; a whole percentage within one point, so
   both rounding and truncation pass; "dưới 1%" needs a true share above 0 and under 1%), or when it is a figure
   of the catalog entry of a recommended service (its name or description: "lãi suất khoảng 4%/năm"). An
   amount worded as an estimate ("khoảng 170.000 đ") in a service's reason is also traceable when it is a rate
   that service's description states times such an amount (or a twelfth of it, for a yearly rate), within
   500 đ (estimates are rounded to 1.000 đ) and not above a cap the description states ("tối đa 100.000đ").
4. Every recommendation's link must be a link of the catalog, under that service's own name.

``audit_answer(history, answer, catalog=...)`` returns one line per problem; an empty list is a clean answer.
It sees the answer as a user does; it cannot tell a true figure attached to the wrong category (the gate's
job), and a number that happens to equal some derived value passes.

    python -c "from finadvisor.advisor.audit import audit_answer; help(audit_answer)"
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finadvisor.catalog.model import Service, load_catalog
from finadvisor.history import SpendingHistory

# A number as Vietnamese text writes it: "1.250.000", "1,2", "45", never glued to letters ("4G", "P2P", "K12").
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d+))?(?![\w])")
_MULTIPLIERS = {"tỷ": 1e9, "tỉ": 1e9, "triệu": 1e6, "tr": 1e6, "nghìn": 1e3, "ngàn": 1e3, "k": 1e3}
_UNIT_AFTER = re.compile(
    r"\s*(tỷ|tỉ|triệu|tr|nghìn|ngàn|k)?(?![\w])\s*(đồng|đ|vnđ|vnd|₫)?(?![\w])", re.IGNORECASE
)
_PERCENT_AFTER = re.compile(r"\s?%")
_COUNT_AFTER = re.compile(r"\s*(lần|giao dịch|lượt|khoản)(?![\w])", re.IGNORECASE)
_ESTIMATE_BEFORE = re.compile(r"khoảng\s*$", re.IGNORECASE)
_RATE = re.compile(r"(?<![\d.,])(\d{1,2}(?:[.,]\d{1,2})?)\s*%")
# a cap as catalogs write it, the unit often glued to the digits: "tối đa 100.000đ/tháng", "tối đa 2 triệu"
_CAP = re.compile(
    r"tối đa\s*(\d{1,3}(?:\.\d{3})+|\d+)\s*(triệu|nghìn|ngàn|k|đồng|đ|vnđ)(?!\w)", re.IGNORECASE
)
ESTIMATE_ROUNDING = 500.0  # estimates are stated to the nearest 1.000 đ
_UNDER_BEFORE = re.compile(r"(dưới|chưa tới|chưa đến|không tới)\s*$", re.IGNORECASE)
MAX_SUBSET_LINES = 40  # above this many lines, sums of two or three lines are not enumerated (cost)
MAX_PAIR_LINES = 15  # above this many lines, totals leave out one line at most (cost)


@dataclass(frozen=True)
class Figure:
    """One number read from a text: its value in base units (đồng, percent points, a count) and how exactly it
    was written (half the last digit shown, scaled like the value)."""

    kind: str  # "money", "percent", "under-percent", "count" or "bare"
    value: float
    half_unit: float
    text: str
    estimate: bool = False  # worded as an estimate: "khoảng 170.000 đ"


def read_figures(text: str) -> Iterator[Figure]:
    """Every number in ``text`` with its kind, value and written precision."""
    for m in _NUMBER.finditer(text):
        whole, decimals = m.group(1), m.group(2) or ""
        grouped = "." in whole
        value = float(whole.replace(".", "") + ("." + decimals if decimals else ""))
        half = 0.5 * 10 ** -len(decimals)
        rest = text[m.end() :]
        shown = m.group(0)
        if _PERCENT_AFTER.match(rest):
            under = bool(_UNDER_BEFORE.search(text[: m.start()]))
            yield Figure("under-percent" if under else "percent", value, half, shown + "%")
            continue
        unit = _UNIT_AFTER.match(rest)
        multiplier_word = unit.group(1).lower() if unit and unit.group(1) else None
        currency = bool(unit and unit.group(2))
        if multiplier_word or currency or grouped:
            scale = _MULTIPLIERS.get(multiplier_word or "", 1.0)
            yield Figure(
                "money",
                value * scale,
                half * scale,
                text[m.start() : m.end() + (unit.end() if unit else 0)],
                bool(_ESTIMATE_BEFORE.search(text[: m.start()])),
            )
            continue
        if _COUNT_AFTER.match(rest):
            yield Figure("count", value, half, shown)
            continue
        yield Figure("bare", value, half, shown)


class _Truths:
    """The values a true sentence about this history could state (see the module docstring, point 2)."""

    def __init__(self, history: SpendingHistory) -> None:
        spend = [(c.amount, c.count) for c in history.spending]
        earn = [(c.amount, c.count) for c in history.earning]
        self.money: set[float] = set()
        self.counts: set[float] = {float(len(spend)), float(len(earn)), float(len(spend) + len(earn))}
        self.spent_totals = self._totals([a for a, _ in spend])
        self.earned_totals = self._totals([a for a, _ in earn])
        for amounts, counts in (
            (list(a for a, _ in spend), list(k for _, k in spend)),
            (list(a for a, _ in earn), list(k for _, k in earn)),
        ):
            self.money.update(amounts)
            self.money.update(self._totals(amounts))
            self.money.update(self._small_sums(amounts))
            self.counts.update(float(k) for k in counts)
            self.counts.update(self._totals([float(k) for k in counts]))
            self.counts.update(self._small_sums([float(k) for k in counts]))
        self.differences = {abs(e - s) for e in self.earned_totals for s in self.spent_totals}
        self.money.update(self.differences)
        self.spend_lines = [a for a, _ in spend]
        self.lines = self.spend_lines + [a for a, _ in earn]

    @staticmethod
    def _totals(values: Sequence[float]) -> set[float]:
        """The total, and the total without any one or two of the values (one only past MAX_PAIR_LINES)."""
        total = sum(values)
        out = {total}
        out.update(total - v for v in values)
        if len(values) <= MAX_PAIR_LINES:
            out.update(total - a - b for a, b in itertools.combinations(values, 2))
        return {v for v in out if v >= 0}

    @staticmethod
    def _small_sums(values: Sequence[float]) -> set[float]:
        if len(values) > MAX_SUBSET_LINES:
            return set()
        out: set[float] = set()
        for size in (2, 3):
            out.update(sum(c) for c in itertools.combinations(values, size))
        return out

    def money_ok(self, f: Figure) -> bool:
        return any(abs(f.value - v) <= f.half_unit + 0.5 for v in self.money)

    def count_ok(self, f: Figure) -> bool:
        return any(abs(f.value - v) <= f.half_unit for v in self.counts)

    def shares(self) -> Iterator[float]:
        """Shares a true sentence could state, by family: a line of a total (spending or money in, with up to two
        lines left out), money left or overspent of the money in, spending of the money in, and a line of a
        group of two or three spending lines it belongs to (the savings transfers among themselves)."""
        spent = [t for t in self.spent_totals if t > 0]
        earned = [t for t in self.earned_totals if t > 0]
        for d in spent + earned:
            for n in self.lines:
                yield 100.0 * n / d
        for d in earned:
            for n in (*self.differences, *self.spent_totals):
                yield 100.0 * n / d
        if len(self.spend_lines) <= MAX_SUBSET_LINES:
            for size in (2, 3):
                for group in itertools.combinations(self.spend_lines, size):
                    total = sum(group)
                    if total > 0:
                        yield from (100.0 * n / total for n in group)

    def percent_ok(self, f: Figure) -> bool:
        # a whole percentage within one point (rounded or truncated); a decimal one within its last digit
        slack = 1.0 if f.half_unit >= 0.5 else f.half_unit * 2
        return any(abs(f.value - s) < slack for s in self.shares())

    def under_percent_ok(self, f: Figure) -> bool:
        return any(0 < s < f.value for s in self.shares())

    def bare_ok(self, f: Figure) -> bool:
        return any(abs(f.value - v) <= f.half_unit for v in self.counts) or any(
            abs(f.value - v) <= f.half_unit for v in self.money
        )


def _catalog_figures(services: Iterable[Service]) -> list[Figure]:
    return [f for s in services for text in (s.service, s.description) for f in read_figures(text)]


def _from_catalog(f: Figure, figures: Sequence[Figure]) -> bool:
    """The figure is one the recommended services' own catalog entries state (same value, any precision)."""
    return any(abs(f.value - c.value) <= max(f.half_unit, c.half_unit) for c in figures)


def _estimate_ok(f: Figure, service: Service | None, truths: _Truths) -> bool:
    """An estimate ("khoảng 170.000 đ") in a service's reason is traceable when it is one of that service's
    catalog rates times an amount of the history (a line, a total, money left), a month of a yearly rate or
    not, within the rounding to 1.000 đ, and not above a cap the service states ("tối đa 100.000đ")."""
    if not f.estimate or service is None:
        return False
    desc = " ".join(service.description.split())
    # rates as catalogs write them, a decimal point included ("Sinh lời 4.2%", "4,5%/năm")
    rates = [float(r.replace(",", ".")) for r in _RATE.findall(desc) if float(r.replace(",", ".")) > 0]
    caps = [
        float(m.group(1).replace(".", "")) * _MULTIPLIERS.get(m.group(2).lower(), 1.0)
        for m in _CAP.finditer(desc)
    ]
    if caps and abs(f.value - max(caps)) <= f.half_unit:
        return True  # the estimate the cap set ("khoảng 100.000 đ/tháng, mức tối đa dịch vụ hoàn lại")
    if caps and f.value > max(caps) + f.half_unit:
        return False
    for r in rates:
        for base in truths.money:
            for value in (base * r / 100, base * r / 1200):
                if caps:
                    value = min(value, max(caps))
                if abs(f.value - value) <= ESTIMATE_ROUNDING + f.half_unit + 0.5:
                    return True
    return False


def _without_names(text: str, names: Iterable[str]) -> str:
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        text = text.replace(name, " ")
    return text


def _as_services(catalog: Iterable[Service] | str | Path | None) -> list[Service]:
    if catalog is None:
        from finadvisor.catalog import demo_catalog_path

        return load_catalog(Path(demo_catalog_path()), ("*",))
    if isinstance(catalog, (str, Path)):
        return load_catalog(Path(catalog), ("*",))
    return list(catalog)


def audit_answer(
    history: Mapping[str, Any],
    answer: Mapping[str, Any],
    catalog: Iterable[Service] | str | Path | None = None,
) -> list[str]:
    """Problems with one answer (``{"summarization", "recommendations": [{"service", "link",
    "recommendation"}]}``) for ``history`` (the seed's shape, as posted). ``catalog``: the services the answer was
    made from (a list, or a catalog file); default the demo catalog. An empty list means every number is
    traceable and every link is the catalog's."""
    parsed = SpendingHistory.model_validate(dict(history))
    services = _as_services(catalog)
    by_link = {s.link: s for s in services}
    problems: list[str] = []
    recs = [r for r in answer.get("recommendations", []) if isinstance(r, Mapping)]
    chosen: list[Service] = []
    for r in recs:
        service = by_link.get(str(r.get("link", "")))
        if service is None:
            problems.append(f"link not in the catalog: {r.get('link')!r}")
        elif service.service != r.get("service"):
            problems.append(
                f"link {service.link} is {service.service!r} in the catalog, not {r.get('service')!r}"
            )
        else:
            chosen.append(service)
    truths = _Truths(parsed)
    catalog_figures = _catalog_figures(chosen)
    names = [c.name for c in (*parsed.spending, *parsed.earning)]
    names += [s.service for s in chosen] + [s.description for s in chosen]
    texts: list[tuple[str, str, Service | None]] = [("summary", str(answer.get("summarization", "")), None)]
    texts += [
        (f"reason {i + 1}", str(r.get("recommendation", "")), by_link.get(str(r.get("link", ""))))
        for i, r in enumerate(recs)
    ]
    for where, text, service in texts:
        for f in read_figures(_without_names(text, names)):
            if _from_catalog(f, catalog_figures) or _estimate_ok(f, service, truths):
                continue
            ok = {
                "money": truths.money_ok,
                "count": truths.count_ok,
                "percent": truths.percent_ok,
                "under-percent": truths.under_percent_ok,
                "bare": truths.bare_ok,
            }[f.kind](f)
            if not ok:
                problems.append(
                    f"{where}: {f.kind} {f.text!r} is not traceable to the history or the catalog"
                )
    return problems
