"""The facts of one spending history, and the evidence that links a chosen service to them.

Everything the advisor says is built from these records: the ranker attaches evidence to each service it picks,
the prompt shows it to the model, the faithfulness check compares the model's sentences with it, and the
template sentences (the fallback that is always true) are written from it. Figures are computed here once, so
no later stage does arithmetic of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from finadvisor.catalog import Service
from finadvisor.history import SpendingHistory


@dataclass(frozen=True)
class CategoryFact:
    name: str
    amount: float
    count: int
    share: float  # of total spending, 0..1


@dataclass(frozen=True)
class Facts:
    categories: tuple[CategoryFact, ...]  # spending, merged by name, largest amount first
    earnings: tuple[CategoryFact, ...]  # share = of total income
    spent: float
    earned: float

    @property
    def surplus(self) -> float:
        return self.earned - self.spent

    @property
    def saved_share(self) -> float:
        """Share of income left unspent (0 when there is no income or no surplus)."""
        return max(self.surplus, 0.0) / self.earned if self.earned > 0 else 0.0

    @classmethod
    def of(cls, history: SpendingHistory) -> Facts:
        def merged(items: list) -> list[tuple[str, float, int]]:  # type: ignore[type-arg]
            rows: dict[str, list] = {}  # type: ignore[type-arg]
            for c in items:
                slot = rows.setdefault(c.name.lower(), [c.name, 0.0, 0])
                slot[1] += c.amount
                slot[2] += c.count
            return sorted(((n, a, k) for n, a, k in rows.values()), key=lambda r: (-r[1], -r[2], r[0]))

        spend = merged(history.spending)
        earn = merged(history.earning)
        spent = sum(a for _, a, _ in spend)
        earned = sum(a for _, a, _ in earn)
        return cls(
            categories=tuple(CategoryFact(n, a, k, a / spent if spent else 0.0) for n, a, k in spend),
            earnings=tuple(CategoryFact(n, a, k, a / earned if earned else 0.0) for n, a, k in earn),
            spent=spent, earned=earned)


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

    def categories(self) -> list[CategoryFact]:
        """The categories behind this pick, the strongest first (a category this service is the first choice
        for before one it is only a second choice for: the hotel service speaks of "Khách sạn" before
        "Vé máy bay")."""
        weight: dict[str, float] = {}
        facts: dict[str, CategoryFact] = {}
        for e in self.evidence:
            if e.category is not None:
                facts.setdefault(e.category.name, e.category)
                weight[e.category.name] = weight.get(e.category.name, 0.0) + e.weight * (1.0 if e.primary else 0.1)
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
