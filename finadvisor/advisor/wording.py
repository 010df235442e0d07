"""Everything the advisor writes for a user to read, in one place (issue 24, item 6): how money and shares are
written, the fact clause that opens each reason, the sentence that follows it when no model sentence is shown
(the catalog's own words), and the summary. ``faithfulness.py`` only checks; ``audit.py`` only audits.

    reason = template_reason(pick, facts, before)      # fact clause + the catalog's words
    summary = compose_summary(facts)                   # computed facts + one advice sentence chosen by rule

Every figure here is computed from the history (or the catalog), never by a model, so it is true by construction.
"""

from __future__ import annotations

from collections.abc import Sequence

from finadvisor.advisor.catalog_facts import Benefit, CatalogFacts, estimate
from finadvisor.advisor.evidence import Facts, Pick
from finadvisor.advisor.prompt import first_sentence
from finadvisor.advisor.ranker import is_debt
from finadvisor.advisor.topics import load_topics
from finadvisor.history import SURPLUS_MIN_RATIO

TEMPLATE_CHARS = 240  # a long catalog description is cut at a word boundary


# ------------------------------------------------------------------------------------ numbers
def vnd(amount: float) -> str:
    return f"{round(amount):,}".replace(",", ".") + " đ"


def percent(share: float) -> str:
    """A 0..1 share as people say it: "44%", and "dưới 1%" rather than a "0%" that reads as nothing."""
    shown = round(100 * share)
    return "dưới 1%" if share > 0 and shown == 0 else f"{shown}%"


# ------------------------------------------------------------------------------------ reasons
def as_sentence(text: str) -> str:
    """Capitalised (unless the first word is cased on purpose: "iPhone") and ending in one full stop."""
    text = text.strip()
    if text[:1].islower() and not text[1:2].isupper():
        text = text[0].upper() + text[1:]
    if text[-1] in ".!?…" or (text[-1] in "\"'”’)" and text[-2:-1] in (".", "!", "?", "…")):
        return text
    return text.rstrip(";,:") + "."


def fact_clause(pick: Pick, facts: Facts, before: Sequence[Pick] = ()) -> str:
    """What the ranker found, stated by the advisor: every figure sits next to its own name, so it is true.
    ``before``: the services shown above this one. A fact is stated once per answer: a second service for the
    same category or the same idle money refers back to it instead of repeating it (issue 28)."""
    kinds = {e.kind for e in pick.evidence}
    cats = pick.categories()
    said = {c.name for p in before for c in p.categories()[:1]}
    already = f"Bạn đã dùng {pick.service.service}. " if pick.in_use else ""
    if "surplus" in kinds and facts.earned > 0:
        if any(e.kind == "surplus" for p in before for e in p.evidence):
            if already:
                return f"{already}Bạn còn {vnd(facts.surplus)} chưa dùng đến trong tháng này."
            return "Khoản tiền còn dư nói trên cũng có thể dùng cho dịch vụ này."
        return (
            f"{already}Tháng này bạn có thu nhập {vnd(facts.earned)}, chi {vnd(facts.spent)} và còn dư "
            f"{vnd(facts.surplus)} ({percent(facts.saved_share)} thu nhập)."
        )
    fresh = [c for c in cats if c.name not in said]
    if cats and not fresh:
        return f"Cũng cho khoản {cats[0].name} nói trên."
    if fresh:
        c = fresh[0]
        if "debt" in kinds and is_debt(c.name):
            return f"Tháng này bạn có khoản {c.name} {vnd(c.amount)}."
        times = f" qua {c.count} giao dịch" if c.count > 1 else ""
        return f"Tháng này bạn chi {vnd(c.amount)} cho {c.name}{times} ({percent(c.share)} tổng chi)."
    # nothing of the user's own behind it (a fallback): the fact of the month nearest the service (a place for
    # money speaks of what was put aside or came in; anything else of the spending), not stated by a reason above
    spent = [f"Tháng này bạn chi tổng cộng {vnd(facts.spent)}."] if facts.spent > 0 else []
    money = (
        [f"Tháng này bạn đã để riêng {vnd(facts.put_aside)} cho tiết kiệm và đầu tư."] if facts.saved else []
    )
    if facts.earned > 0:
        money.append(f"Tháng này bạn có thu nhập {vnd(facts.earned)}.")
    elif facts.received > 0:
        money.append(f"Tháng này ví của bạn nhận vào {vnd(facts.received)}.")
    unsaid = [c for c in facts.categories if c.name not in said]
    other = [f"Bạn cũng chi {vnd(unsaid[0].amount)} cho {unsaid[0].name}."] if unsaid else []
    options = money + spent + other if _a_place_for_money(pick) else spent + other + money
    stated = {fact_clause(p, facts, before[:i]) for i, p in enumerate(before) if p.source == "fallback"}
    fresh_options = [o for o in options if o not in stated]
    return (fresh_options or options or ["Thêm một dịch vụ bạn chưa dùng."])[0]


def _a_place_for_money(pick: Pick) -> bool:
    """A savings or investment service (read from its name or the topic its description leads with)."""
    lexicon = load_topics()
    read = lexicon.lead_topic(pick.service.service, accents=True) or lexicon.lead_topic(
        pick.service.description, accents=True
    )
    return read is not None and read.flow in ("saving", "investing")


def benefit_template(pick: Pick) -> str:
    """What the service does, in the company's own words (its catalog description), for when the model's
    sentence was not good enough."""
    name = pick.service.service
    about = first_sentence(pick.service.description)
    if about:  # the catalog's own casing is kept ("MoMo", "Grab")
        if len(about) > TEMPLATE_CHARS:
            about = about[:TEMPLATE_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + "…"
        return as_sentence(f"{name}: {about}")
    return f"{name} phù hợp với khoản chi này."


def rate(value: float) -> str:
    """A catalog rate as Vietnamese writes it: "5", "4,5"."""
    return f"{value:g}".replace(".", ",")


def benefit_amount(benefit: Benefit) -> str:
    """The estimate as words: "khoảng 8.000 đ/tháng", "tối đa khoảng …" for an "up to" figure."""
    fact = benefit.fact
    at_most = "tối đa " if fact.up_to and not benefit.capped else ""
    # a cap with no period ("tối đa 300.000đ") may be per booking: the capped amount is not said to be a month's
    month = "" if benefit.capped and not fact.cap_per else "/tháng"
    return f"{at_most}khoảng {vnd(benefit.amount)}{month}"


def benefit_sentence(pick: Pick, benefit: Benefit) -> str:
    """The benefit of the service's stated figure for this user, in đồng a month, worded as an estimate
    ("khoảng"), an upper bound where the catalog's figure is one ("đến 10%" → "tối đa khoảng"), and the cap named
    when it set the amount. It replaces the catalog description, so the reason copies no run of it."""
    fact = benefit.fact
    name = pick.service.service
    up_to = "đến " if fact.up_to else ""
    amount = benefit_amount(benefit)
    tail = ", mức hoàn tối đa của dịch vụ" if benefit.capped else ""
    if fact.kind == "yield":
        return f"Với {name}, lãi suất {up_to}{rate(fact.value)}%/năm có thể giúp số tiền còn dư này sinh lời {amount}."
    if fact.kind == "cashback":
        return (
            f"Với {name}, hoàn tiền {up_to}{rate(fact.value)}% có thể giúp bạn nhận lại {amount} cho khoản chi "
            f"này{tail}."
        )
    return (
        f"Với {name}, mức giảm {up_to}{rate(fact.value)}% có thể giúp bạn tiết kiệm {amount} cho khoản chi "
        f"này{tail}."
    )


def template_reason(
    pick: Pick, facts: Facts, before: Sequence[Pick] = (), catalog: CatalogFacts | None = None
) -> str:
    """A reason built from the evidence and the catalog alone (true by construction): the fact clause, then the
    benefit in đồng where the catalog states a figure that applies (``catalog_facts.estimate``), else the
    catalog description."""
    benefit = estimate(pick, facts, before, catalog)
    tail = benefit_sentence(pick, benefit) if benefit is not None else benefit_template(pick)
    return f"{fact_clause(pick, facts, before)} {tail}"


# ------------------------------------------------------------------------------------ summary
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


def advice(facts: Facts, picks: Sequence[Pick] | None = None) -> str | None:
    """One sentence of advice from the facts, or None when nothing stands out. ``picks``: the services shown;
    a deal for the one item that dominates is promised only when a shown service is that item's own (a transfer
    or an unread "Dịch vụ khác" at 54% has none)."""
    debts = [c for c in facts.categories if is_debt(c.name)]
    if facts.earned and facts.surplus < 0:
        return "Bạn nên đặt hạn mức cho các khoản chi lớn nhất để không chi vượt thu nhập."
    if debts:
        return "Trả các khoản nợ và trả góp đúng hạn giúp bạn tránh phí phạt và lãi trễ hạn."
    if facts.earned and facts.saved_share >= SURPLUS_MIN_RATIO:
        return "Khoản tiền còn dư có thể được gửi tiết kiệm hoặc đầu tư để sinh lời thay vì để yên trong ví."
    top = facts.categories[0] if facts.categories else None
    answered = picks is None or any(
        p.categories()[:1] and p.categories()[0].name == top.name for p in picks if top is not None
    )
    if top is not None and len(facts.categories) > 1 and top.share >= DOMINANT_SHARE and answered:
        return "Phần lớn chi tiêu của bạn dồn vào một khoản, nên một ưu đãi cho khoản này giúp bạn tiết kiệm nhiều nhất."
    return None


def compose_summary(facts: Facts, picks: Sequence[Pick] | None = None) -> str:
    tip = advice(facts, picks)
    base = facts_summary(facts)
    return f"{base} {tip}" if tip else base
