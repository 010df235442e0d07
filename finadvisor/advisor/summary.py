"""The summary: computed facts, then at most one sentence of advice, chosen by rule from the same facts.

Totals, top categories and the share saved are arithmetic, which the small model gets wrong ("45.000 + 58.000
= 103.800"); they are computed here. The model no longer writes a summary sentence: it was kept (passed the
faithfulness check and cited the user's spending) in 0-23% of answers, and decoding it cost 2-4 s per miss on
CPU. The advice sentence is what a financial advisor says first about these facts (overspending, debt, idle
money, one category that dominates), true by construction.
"""

from __future__ import annotations

from finadvisor.advisor.evidence import Facts
from finadvisor.advisor.prompt import percent, vnd
from finadvisor.advisor.ranker import is_debt
from finadvisor.history import SURPLUS_MIN_RATIO

DOMINANT_SHARE = 0.5


def facts_summary(facts: Facts, top: int = 2) -> str:
    """Spending, what was put aside, and money in, as a wallet reads them: only income is called income, and a
    saving rate or "spending more than you earn" is stated only against it (issue 28)."""
    if not facts.categories:
        head = "Tháng này bạn chưa có khoản chi nào."
    else:
        head = f"Tháng này bạn chi {vnd(facts.spent)}"
        head += f" và có thu nhập {vnd(facts.earned)}." if facts.earned else "."
    if facts.received:
        names = ", ".join(c.name for c in facts.earnings if c.kind != "income")
        head += f" Ví của bạn nhận thêm {vnd(facts.received)} ({names})."
    if facts.saved:
        names = ", ".join(c.name for c in facts.saved)
        head += f" Bạn đã để riêng {vnd(facts.put_aside)} cho tiết kiệm và đầu tư ({names})."
    shown = [c for c in facts.categories[:top] if c.amount > 0]
    parts = [f"{c.name} ({vnd(c.amount)}, {percent(c.share)})" for c in shown]
    body = f" Chi nhiều nhất cho {' và '.join(parts)}." if parts else ""
    tail = ""
    if facts.earned and facts.categories:
        if facts.surplus >= 0:
            tail = f" Bạn để dành được {percent(facts.saved_share)} thu nhập."
        else:
            tail = f" Bạn chi nhiều hơn thu nhập {vnd(-facts.surplus)}."
    return head + body + tail


def advice(facts: Facts) -> str | None:
    """One sentence of advice from the facts, or None when nothing stands out."""
    debts = [c for c in facts.categories if is_debt(c.name)]
    if facts.earned and facts.surplus < 0:
        return "Bạn nên đặt hạn mức cho các khoản chi lớn nhất để không chi vượt thu nhập."
    if debts:
        return "Trả các khoản nợ và trả góp đúng hạn giúp bạn tránh phí phạt và lãi trễ hạn."
    if facts.earned and facts.saved_share >= SURPLUS_MIN_RATIO:
        return "Khoản tiền còn dư có thể được gửi tiết kiệm hoặc đầu tư để sinh lời thay vì để yên trong ví."
    if facts.categories and len(facts.categories) > 1 and facts.categories[0].share >= DOMINANT_SHARE:
        return "Phần lớn chi tiêu của bạn dồn vào một khoản, nên một ưu đãi cho khoản này giúp bạn tiết kiệm nhiều nhất."
    return None


def compose_summary(facts: Facts) -> str:
    tip = advice(facts)
    base = facts_summary(facts)
    return f"{base} {tip}" if tip else base
