"""Turning a spending history into retrieval queries.

The seed embedded the whole raw history JSON as one query: numbers and field names drown the few words that
matter, and one vector cannot point at five different needs. Here every spending category becomes its own short
query, weighted by its share of money and of transactions (square-rooted so a big rent payment does not silence
everything else). A month that ends with clear surplus income adds a savings/investment query, because that is
what an advisor would bring up for money that is not being spent.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from finadvisor.history import SURPLUS_MIN_RATIO, SpendingHistory

MAX_CATEGORIES = 8
AMOUNT_SHARE = 0.6  # the rest of a category's weight comes from its share of transactions
SURPLUS_WEIGHT = 0.5  # the surplus query's share of the weights = this x (share of income left unspent)
SURPLUS_QUERY = "tiết kiệm, tích lũy và đầu tư khoản tiền nhàn rỗi để sinh lời"


@dataclass(frozen=True)
class WeightedQuery:
    text: str
    weight: float
    source: str  # the category name, or "surplus"


def history_queries(
    history: SpendingHistory, max_categories: int = MAX_CATEGORIES, include_surplus: bool = True
) -> list[WeightedQuery]:
    """One query per spending category (largest first), weights summing to 1."""
    cats = [c for c in history.top_spending() if c.amount > 0 or c.count > 0]
    # the same name twice (two months merged, different casing) is one need
    merged: dict[str, list[float]] = {}
    for c in cats:
        key = c.name.lower()
        slot = merged.setdefault(key, [0.0, 0.0, 0.0])
        slot[0] += c.amount
        slot[1] += c.count
    names = {c.name.lower(): c.name for c in reversed(cats)}
    spent = sum(v[0] for v in merged.values())
    earned = sum(c.amount for c in history.earning)
    rows = [(names[k], v[0], v[1]) for k, v in merged.items()]
    surplus = earned - spent
    surplus_share = 0.0
    if include_surplus and earned > 0 and surplus / earned >= SURPLUS_MIN_RATIO:
        # Its own share, from the share of income left unspent: the surplus is often many times the spending,
        # and counted as an "amount" beside the categories it drowned their amounts, leaving only counts to
        # rank them (a 1-payment 850.000 đ electricity bill then ranked below 3 cinema tickets).
        surplus_share = SURPLUS_WEIGHT * min(surplus / earned, 1.0)
    if not rows and not surplus_share:
        return []
    total_amount = sum(r[1] for r in rows)
    total_count = sum(r[2] for r in rows)
    scored = []
    for name, amount, count in rows:
        share_a = amount / total_amount if total_amount else 0.0
        if total_count:
            share = AMOUNT_SHARE * share_a + (1 - AMOUNT_SHARE) * count / total_count
        else:
            share = share_a
        share *= 1.0 - surplus_share if surplus_share else 1.0
        scored.append((name, math.sqrt(share)))
    if surplus_share:
        scored.append(("surplus", math.sqrt(surplus_share if rows else 1.0)))
    scored.sort(key=lambda r: -r[1])
    keep = [r for r in scored if r[0] != "surplus"][:max_categories] + [
        r for r in scored if r[0] == "surplus"
    ]
    norm = sum(w for _, w in keep) or 1.0
    return [WeightedQuery(SURPLUS_QUERY if name == "surplus" else name, w / norm, name) for name, w in keep]


def whole_history_query(history: SpendingHistory) -> str:
    """The seed's approach (the raw history as one JSON string), kept as the benchmark baseline."""
    return json.dumps(history.model_dump(), ensure_ascii=False)
