"""The summary: computed facts first, then at most one sentence of insight from the model, validated.

Totals, top categories and the share saved are arithmetic, which the small model gets wrong ("45.000 + 58.000
= 103.800"); they are computed here. The model adds one sentence of observation, kept only when the
faithfulness check passes it (``faithfulness.Checker.check_insight``).
"""

from __future__ import annotations

from finadvisor.advisor.evidence import Facts
from finadvisor.advisor.faithfulness import vnd


def facts_summary(facts: Facts, top: int = 2) -> str:
    if not facts.categories:
        return f"Tháng này bạn chưa có khoản chi nào, tổng thu nhập là {vnd(facts.earned)}."
    head = f"Tháng này bạn chi {vnd(facts.spent)}"
    head += f" và thu {vnd(facts.earned)}." if facts.earned else "."
    shown = [c for c in facts.categories[:top] if c.amount > 0]
    parts = [f"{c.name} ({vnd(c.amount)}, {round(100 * c.share)}%)" for c in shown]
    body = f" Chi nhiều nhất cho {' và '.join(parts)}." if parts else ""
    tail = ""
    if facts.earned:
        if facts.surplus >= 0:
            tail = f" Bạn để dành được {round(100 * facts.saved_share)}% thu nhập."
        else:
            tail = f" Bạn chi nhiều hơn thu {vnd(-facts.surplus)}."
    return head + body + tail


def compose_summary(facts: Facts, insight: str | None) -> str:
    base = facts_summary(facts)
    if not insight:
        return base
    insight = insight.strip()
    if insight[-1] not in ".!?…":
        insight += "."
    return f"{base} {insight}"
