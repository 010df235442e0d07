"""The facts of one spending history, and the evidence that links a chosen service to them.

Everything the advisor says is built from these records: the ranker attaches evidence to each service it picks,
the prompt shows it to the model, the faithfulness check compares the model's sentences with it, and the
template sentences (the fallback that is always true) are written from it. Figures are computed here once, so
no later stage does arithmetic of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from finadvisor.advisor.category_map import fold
from finadvisor.advisor.topics import MEANS, Topic, TopicLexicon, load_topics
from finadvisor.catalog import Service
from finadvisor.history import SpendingHistory


@dataclass(frozen=True)
class CategoryFact:
    name: str
    amount: float
    count: int
    share: float  # of total spending (or, for money in, of what came in), 0..1
    kind: str = "spending"  # spending | saving | investing | income | inflow: how a wallet counts the line
    topic: str = ""  # the spending topic the name was read as ("" when none was confident)
    how: str = ""  # how it was read: map, lexicon, descriptor, learned, nearest, abstained (``--explain``)
    in_use: bool = (
        False  # the line is an app service's own transaction (a top-up, a bill, a savings transfer)
    )


@dataclass(frozen=True)
class Facts:
    """One history as a wallet reads it (issue 28): what was spent, what was put aside into the user's own
    savings or investments (not spending), and what came in: income (salary, pension, wages, business revenue)
    apart from other money into the wallet (received transfers, top-ups, refunds, cashback), which is not
    income. Every consumer (summary, ranker, checker, batch, the structured evidence) reads this once."""

    categories: tuple[CategoryFact, ...]  # spending, merged by name, largest amount first
    earnings: tuple[
        CategoryFact, ...
    ]  # every line of money in, kind income or inflow; share = of all money in
    spent: float  # spending only: savings and investment transfers are not spending
    earned: float  # income only
    saved: tuple[CategoryFact, ...] = ()  # transfers into the user's own savings or investments
    received: float = 0.0  # money in that is not income

    @property
    def surplus(self) -> float:
        return self.earned - self.spent

    @property
    def saved_share(self) -> float:
        """Share of income left unspent (0 when there is no income or no surplus)."""
        return max(self.surplus, 0.0) / self.earned if self.earned > 0 else 0.0

    @property
    def put_aside(self) -> float:
        return sum(c.amount for c in self.saved)

    @property
    def money_in(self) -> float:
        return self.earned + self.received

    def lines(self) -> tuple[CategoryFact, ...]:
        """Every line with its kind: spending, then saving and investing, then money in."""
        return self.categories + self.saved + self.earnings

    @classmethod
    def of(
        cls,
        history: SpendingHistory,
        topics: TopicLexicon | None = None,
        services: Mapping[str, Topic] | None = None,
    ) -> Facts:
        """``services``: the running catalog's service names (folded, two words or more) and what each is about:
        a line that names a service outright ("Chuyển tiền vào Heo Đất") is read as that service's topic."""
        lexicon = topics if topics is not None else load_topics()
        named = services or {}

        def read(name: str) -> tuple[Topic | None, str]:
            reading = lexicon.read(name)
            if (
                reading.topic is None or reading.topic.id in MEANS
            ):  # refines a transfer or an unknown name only
                folded = fold(name)
                for key, topic in sorted(named.items(), key=lambda kv: -len(kv[0])):
                    if topic.id in MEANS:  # the catalog's own "Chuyển tiền" refines nothing
                        continue
                    if re.search(rf"(?<!\w){re.escape(key)}(?!\w)", folded):
                        return topic, "catalog name"
            return reading.topic, reading.how

        def merged(items: list) -> list[tuple[str, float, int]]:  # type: ignore[type-arg]
            rows: dict[str, list] = {}  # type: ignore[type-arg]
            for c in items:
                slot = rows.setdefault(c.name.lower(), [c.name, 0.0, 0])
                slot[1] += c.amount
                slot[2] += c.count
            return sorted(((n, a, k) for n, a, k in rows.values()), key=lambda r: (-r[1], -r[2], r[0]))

        spend: list[tuple[str, float, int, str, str, str, bool]] = []
        aside: list[tuple[str, float, int, str, str, str, bool]] = []
        for n, a, k in merged(history.spending):
            topic, how = read(n)
            kind = topic.flow if topic is not None and topic.flow in ("saving", "investing") else "spending"
            row = (
                n,
                a,
                k,
                kind,
                topic.id if topic else "",
                how,
                bool(topic and topic.in_use and lexicon.in_app(n)),
            )
            (aside if kind != "spending" else spend).append(row)
        earn = []
        for n, a, k in merged(history.earning):
            topic = lexicon.earning_topic(n)
            # money in that names no income is not income: a saving rate is never claimed on a guess
            kind = "income" if topic is not None and topic.flow == "income" else "inflow"
            earn.append(
                (n, a, k, kind, topic.id if topic else "", "lexicon" if topic else "abstained", False)
            )
        spent = sum(r[1] for r in spend)
        put = sum(r[1] for r in aside)
        came = sum(r[1] for r in earn)
        return cls(
            categories=tuple(
                CategoryFact(n, a, k, a / spent if spent else 0.0, kind, t, how, use)
                for n, a, k, kind, t, how, use in spend
            ),
            earnings=tuple(
                CategoryFact(n, a, k, a / came if came else 0.0, kind, t, how, use)
                for n, a, k, kind, t, how, use in earn
            ),
            saved=tuple(
                CategoryFact(n, a, k, a / put if put else 0.0, kind, t, how, use)
                for n, a, k, kind, t, how, use in aside
            ),
            spent=spent,
            earned=sum(r[1] for r in earn if r[3] == "income"),
            received=sum(r[1] for r in earn if r[3] != "income"),
        )


@dataclass(frozen=True)
class Evidence:
    """Why a service was picked. ``kind``: "category" (one of the user's spending categories), "surplus"
    (income left unspent), "debt" (a debt or late-fee category) or "fallback" (nothing specific fitted)."""

    kind: str
    category: CategoryFact | None = None
    weight: float = 1.0  # how much this evidence added to the pick's score
    primary: bool = True  # the category's first choice (not its 2nd/3rd mapped or retrieved service)


@dataclass
class Pick:
    service: Service
    score: float
    source: str  # "map", "retrieval", "surplus", "debt" or "fallback" (the last one: added by the ranker)
    evidence: list[Evidence] = field(default_factory=list)
    in_use: bool = False  # the user already uses it: shown only for a further use (a larger balance)

    def categories(self) -> list[CategoryFact]:
        """The categories behind this pick, the strongest first (a category this service is the first choice
        for before one it is only a second choice for: the hotel service speaks of "Khách sạn" before
        "Vé máy bay")."""
        weight: dict[str, float] = {}
        facts: dict[str, CategoryFact] = {}
        for e in self.evidence:
            if e.category is not None:
                facts.setdefault(e.category.name, e.category)
                weight[e.category.name] = weight.get(e.category.name, 0.0) + e.weight * (
                    1.0 if e.primary else 0.1
                )
        return sorted(facts.values(), key=lambda c: (-weight[c.name], -c.amount))

    def explains(self) -> set[str]:
        """What this pick answers for once chosen: the categories (and "@surplus"/"@debt" signals) it is the
        first choice for."""
        return self._speaks_to(primary_only=True)

    def covers(self) -> set[str]:
        """Everything this pick speaks to, first choice or not (a pick whose every category and signal is
        already explained by a chosen one adds little: the diversity rule in ``Ranker._choose``)."""
        return self._speaks_to(primary_only=False)

    def _speaks_to(self, *, primary_only: bool) -> set[str]:
        found = set()
        for e in self.evidence:
            if e.primary or not primary_only:
                if e.category is not None:
                    found.add(e.category.name)
                if e.kind in ("surplus", "debt"):
                    found.add("@" + e.kind)
        return found
