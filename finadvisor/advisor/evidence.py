"""The facts of one spending history, and the evidence that links a chosen service to them.

Everything the advisor says is built from these records: the ranker attaches evidence to each service it picks,
the prompt shows it to the model, the faithfulness check compares the model's sentences with it, and the
template sentences (the fallback that is always true) are written from it. Figures are computed here once, so
no later stage does arithmetic of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

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
    how: str = ""  # how it was read: lexicon, descriptor, learned, catalog name, abstained (``--explain``)
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

    def lines(self) -> tuple[CategoryFact, ...]:
        """Every line with its kind: spending, then saving and investing, then money in."""
        return self.categories + self.saved + self.earnings

    @classmethod
    def of(
        cls,
        history: SpendingHistory,
        topics: TopicLexicon | None = None,
        named: Callable[[str], Topic | None] | None = None,
    ) -> Facts:
        """``named``: what the running catalog's service named in a line is about (``CatalogNames.topic_in``):
        it refines a transfer or an unread name ("Chuyển tiền vào Heo Đất" is saving)."""
        lexicon = topics if topics is not None else load_topics()

        def read(name: str) -> tuple[Topic | None, str]:
            reading = lexicon.read(name)
            if named is not None and (reading.topic is None or reading.topic.id in MEANS):
                if (topic := named(name)) is not None:
                    return topic, "catalog name"
            return reading.topic, reading.how

        def merged(items: list) -> list[tuple[str, float, int]]:  # type: ignore[type-arg]
            rows: dict[str, list] = {}  # type: ignore[type-arg]
            for c in items:
                slot = rows.setdefault(c.name.lower(), [c.name, 0.0, 0])
                slot[1] += c.amount
                slot[2] += c.count
            return sorted(((n, a, k) for n, a, k in rows.values()), key=lambda r: (-r[1], -r[2], r[0]))

        spend: list[CategoryFact] = []
        aside: list[CategoryFact] = []
        for n, a, k in merged(history.spending):
            topic, how = read(n)
            kind = topic.flow if topic is not None and topic.flow in ("saving", "investing") else "spending"
            use = bool(topic and topic.in_use and lexicon.in_app(n))
            (aside if kind != "spending" else spend).append(
                CategoryFact(n, a, k, 0.0, kind, topic.id if topic else "", how, use)
            )
        earn = []
        for n, a, k in merged(history.earning):
            topic = lexicon.earning_topic(n)
            # money in that names no income is not income: a saving rate is never claimed on a guess
            kind = "income" if topic is not None and topic.flow == "income" else "inflow"
            earn.append(
                CategoryFact(
                    n, a, k, 0.0, kind, topic.id if topic else "", "lexicon" if topic else "abstained"
                )
            )
        return cls(
            categories=_shared(spend),
            earnings=_shared(earn),
            saved=_shared(aside),
            spent=sum(c.amount for c in spend),
            earned=sum(c.amount for c in earn if c.kind == "income"),
            received=sum(c.amount for c in earn if c.kind != "income"),
        )


def _shared(lines: list[CategoryFact]) -> tuple[CategoryFact, ...]:
    """The lines with each one's share of their own total."""
    total = sum(c.amount for c in lines)
    return tuple(replace(c, share=c.amount / total if total else 0.0) for c in lines)


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
