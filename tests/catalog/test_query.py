"""Turning a history into weighted per-category queries."""

from __future__ import annotations

import pytest

from finadvisor.catalog.query import SURPLUS_QUERY, history_queries
from finadvisor.history import SpendingHistory


def _h(spending: list[tuple[str, int, int]], earning: int = 0) -> SpendingHistory:
    return SpendingHistory.model_validate(
        {
            "spending": [{"name": n, "amount": a, "count": c} for n, a, c in spending],
            "earning": [{"name": "Lương", "amount": earning, "count": 1}] if earning else [],
        }
    )


def test_weights_follow_amount_and_count_and_sum_to_one() -> None:
    qs = history_queries(
        _h([("Ăn uống", 3_000_000, 40), ("Tiền điện", 800_000, 1), ("Xem phim", 300_000, 3)])
    )
    assert [q.text for q in qs] == ["Ăn uống", "Tiền điện", "Xem phim"]
    assert sum(q.weight for q in qs) == pytest.approx(1.0)


def test_a_large_surplus_does_not_drown_the_spending_amounts() -> None:
    spending = [("tien dien", 850_000, 1), ("nap dien thoai", 200_000, 2), ("xem phim", 300_000, 3)]
    qs = {q.source: q.weight for q in history_queries(_h(spending, earning=30_000_000))}
    assert qs["tien dien"] > qs["xem phim"] > qs["nap dien thoai"]  # the same order as without any income
    without = [q.source for q in history_queries(_h(spending))]
    assert without == ["tien dien", "xem phim", "nap dien thoai"]
    assert 0.25 < qs["surplus"] < 0.5
    assert sum(qs.values()) == pytest.approx(1.0)


def test_surplus_only_when_income_clearly_exceeds_spending() -> None:
    spending = [("Ăn uống", 5_000_000, 30)]
    assert all(q.source != "surplus" for q in history_queries(_h(spending, earning=6_000_000)))
    qs = history_queries(_h(spending, earning=20_000_000))
    assert qs[-1].text == SURPLUS_QUERY
    only_income = history_queries(_h([], earning=10_000_000))
    assert [(q.source, q.weight) for q in only_income] == [("surplus", 1.0)]
