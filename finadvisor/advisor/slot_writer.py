"""The model writes the advice, code writes the numbers (issue 24): per shown service the model writes one short
Vietnamese sentence with placeholders (``{amount}``, ``{category}``, ``{service}``, ``{benefit}``…), constrained
by a small GBNF grammar (no digits, each slot exactly once, bounded length, one full stop), and code fills them
with values computed from the history and the catalog, so no figure can be wrong.

    plan = plan_for(pick, facts, before, catalog, label)   # the slots and their values, the service's gist
    request = GenerationRequest(messages(plan), extra={"grammar": grammar(plan)}, ...)
    sentence = fill(plan, text)                            # None: a slot missing, repeated or unknown
    problems = gate(plan, text, sentence, checker, pick)   # [] : shown; else the next candidate, then the template

The model never sees the catalog description (nothing to copy) nor any figure (nothing to get wrong): only the
names of the slots, what kind of service it is (its topic's label) and what kind of benefit it offers. The
checker gates every filled sentence (``gate``); when no candidate passes, the template reason stands in and is
counted as such.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from finadvisor.advisor.catalog_facts import CatalogFacts, estimate, stated_category
from finadvisor.advisor.category_map import fold
from finadvisor.advisor.evidence import Facts, Pick
from finadvisor.advisor.faithfulness import Checker, _grams
from finadvisor.advisor.ranker import is_debt
from finadvisor.advisor.wording import as_sentence, benefit_amount, vnd
from finadvisor.catalog import Service

WRITER_VERSION = "2"
MIN_SYLLABLES, MAX_SYLLABLES = 12, 45
COPY_RUN = 8  # syllables in a row of the catalog description: a copy, not advice
SEGMENT_CHARS = 60  # the longest free text between two slots (the grammar's bound)
MAX_TOKENS = 72
FREQUENT = 5  # payments a month from which an item is "paid often"
QUOTE_CHARS = 40  # the user's own name is shown to the model cut to this, as data

SYSTEM = (
    'Bạn là trợ lý tài chính của một ví điện tử Việt Nam, nói với khách hàng (gọi là "bạn"). Viết đúng một câu '
    "tiếng Việt có dấu, ngắn gọn, khuyên khách hàng dùng dịch vụ cho khoản tiền của họ. Dùng mỗi chỗ trống được "
    "cho đúng một lần, giữ nguyên dấu ngoặc nhọn, theo đúng thứ tự. Không viết chữ số. Không hứa điều gì ngoài "
    "lợi ích được cho. Kết thúc bằng dấu chấm."
)
BENEFIT_WORDS = {
    "cashback": "hoàn tiền",
    "discount": "giảm giá",
    "yield": "sinh lời",
}
# words that promise something: each must be the service's own (its catalog text) or its stated benefit's kind
_PROMISES = {  # a promise word -> what in the service's own (folded) text backs it, as regexes
    "hoan tien": (r"hoan (?:tien|lai|\d|toi|den)", "cashback"),
    "hoan lai": (r"hoan (?:tien|lai|\d|toi|den)", "cashback"),
    "nhan lai": (r"hoan (?:tien|lai|\d|toi|den)", "cashback"),
    "giam gia": (r"giam (?:gia|\d|toi|den|ngay|phi|\w+ \d)",),
    "chiet khau": ("chiet khau", r"giam (?:gia|\d|toi|den)"),
    "mien phi": ("mien phi", r"0 ?d", "khong mat phi", "phi 0"),
    "lai suat": ("lai suat", "sinh loi"),
    "sinh loi": ("sinh loi", "lai suat"),
    "tich diem": ("tich diem", "diem thuong"),
    "khuyen mai": ("khuyen mai", "uu dai"),
    "uu dai": ("uu dai", "khuyen mai", r"giam (?:gia|\d|toi|den)", r"hoan (?:tien|lai|\d|toi|den)"),
    "qua tang": ("qua tang", "tang qua"),
    "tra gop": ("tra gop",),
    "vay": ("vay",),
    "bao hiem": ("bao hiem",),
    "voucher": ("voucher", "ma giam"),
    "tiet kiem": (
        "tiet kiem",
        r"giam (?:gia|\d|toi|den)",
        r"hoan (?:tien|lai|\d|toi|den)",
        "uu dai",
        "mien phi",
        "chiet khau",
        "sinh loi",
        "lai suat",
    ),
}
_BENEFIT_PROMISES = {
    "cashback": {"hoan tien", "hoan lai", "uu dai", "tiet kiem"},
    "discount": {"giam gia", "uu dai", "chiet khau", "tiet kiem"},
    "yield": {"sinh loi", "lai suat", "tiet kiem"},
}
# advice to spend more is never advice
_SPEND_MORE = re.compile(r"\b(chi thêm|mua thêm|tiêu thêm|tăng chi|chi nhiều hơn|nên chi|vay thêm)\b", re.I)
_SLOT = re.compile(r"\{([a-z_]+)\}")
# what the slot holding the user's money may not be said to be: money put into the service ("Bạn đã tiết kiệm
# {surplus} cho {service}"), or idle money said to be spent or saved
_INTO_SERVICE = re.compile(
    r"\{(?:amount|surplus|spent)\}\s+(?:cho|vào|ở|tại|qua|với|bằng)\s+\{service\}", re.I
)
_IDLE_MISREAD = re.compile(r"(?:đã|tiêu|chi|gửi|tiết kiệm|dùng|trả)\s+\{surplus\}", re.I)
# the words that may lead into the benefit, by its kind ("thử {benefit}" says nothing)
BENEFIT_LEADS = {
    "cashback": r"nhận lại|nhận|được hoàn|hoàn lại|hoàn tiền|hoàn",
    "discount": r"tiết kiệm|bớt được|bớt|giảm|được giảm",
    "yield": r"sinh lời|nhận thêm|lãi|thêm|sinh lãi",
}
_SCAFFOLD = re.compile(r"khách hàng|chỗ trống|theo thứ tự|dịch vụ của ví|lợi ích:|trong tháng của", re.I)


@dataclass(frozen=True)
class SlotPlan:
    """What one reason may say: its slots in order, their filled values, and what the model is told."""

    slots: tuple[str, ...]
    values: dict[str, str]
    kind: str  # spend_benefit | spend | again | idle_benefit | idle | debt | other
    gist: str  # the service's kind, as its topic's label ("Ăn uống"), never its description
    line_label: str  # the user's item's kind ("Cà phê"), or ""
    benefit_kind: str  # cashback | discount | yield | ""
    lead: str = ""  # code's own words before the sentence ("Bạn đã dùng X.")
    names: tuple[str, str] = (
        "",
        "",
    )  # the service's and the user's item's own names, as data for the wording
    top: bool = False  # the item is the user's largest spending
    frequent: bool = False  # the item is paid often (FREQUENT times or more)


def plan_for(
    pick: Pick,
    facts: Facts,
    before: Sequence[Pick],
    catalog: CatalogFacts | None,
    label: Callable[[Service], str],
) -> SlotPlan:
    """The slots of ``pick``'s reason: the same facts the template states (``wording.fact_clause``), each a slot."""
    kinds = {e.kind for e in pick.evidence}
    service = pick.service.service
    benefit = estimate(pick, facts, before, catalog)
    values: dict[str, str] = {}
    slots: list[str] = []
    line_label = ""
    said = {c.name for p in before for c in p.categories()[:1]}
    line = stated_category(pick, before)
    if "surplus" in kinds and facts.earned > 0 and facts.surplus > 0:
        kind = "idle"
        slots.append("surplus")
        values["surplus"] = vnd(facts.surplus)
    elif line is not None:
        line_label = line.topic and _topic_label(line.topic) or ""
        if line.name in said:
            kind = "again"
            slots.append("category")
        elif "debt" in kinds and is_debt(line.name):
            kind = "debt"
            slots += ["category", "amount"]
        else:
            kind = "spend"
            slots += ["amount", "category"]
        values["category"] = line.name
        values["amount"] = vnd(line.amount)
    else:
        kind = "other"
        if facts.spent > 0:
            slots.append("spent")
            values["spent"] = vnd(facts.spent)
    slots.append("service")
    values["service"] = service
    benefit_kind = ""
    if benefit is not None:
        benefit_kind = benefit.fact.kind
        values["benefit"] = benefit_amount(benefit)
        slots.append("benefit")
        kind = f"{kind}_benefit" if kind in ("spend", "idle", "again") else kind
    lead = f"Bạn đã dùng {service}." if pick.in_use else ""
    spending = "category" in slots and kind not in ("again", "again_benefit")
    top = spending and line is not None and bool(facts.categories) and facts.categories[0].name == line.name
    frequent = spending and line is not None and line.count >= FREQUENT
    item = line.name if line is not None and "category" in slots else ""
    return SlotPlan(
        tuple(slots),
        values,
        kind,
        label(pick.service),
        line_label,
        benefit_kind,
        lead,
        (service, item),
        top and len(facts.categories) > 1,
        frequent,
    )


def _topic_label(topic_id: str) -> str:
    from finadvisor.advisor.topics import load_topics

    topic = load_topics().topics.get(topic_id)
    return topic.label if topic is not None else ""


# ---------------------------------------------------------------------------------------------- the request
def user_message(plan: SlotPlan) -> str:
    """The facts the sentence is about, by slot name, with the names as quoted data: no figure, no description.
    One line (the dataset builder folds whitespace, so training and serving see the same text)."""
    service, item = (json.dumps(n[:QUOTE_CHARS], ensure_ascii=False) for n in plan.names)
    parts = [f"Dịch vụ {{service}} ({service}): {plan.gist or 'dịch vụ của ví'}."]
    if plan.benefit_kind:
        parts.append(f"Lợi ích: {BENEFIT_WORDS[plan.benefit_kind]} {{benefit}} mỗi tháng.")
    if plan.kind.startswith("idle"):
        parts.append("Khách hàng còn dư {surplus} thu nhập chưa dùng đến.")
    elif plan.kind.startswith(("spend", "debt")):
        about = ", ".join(x for x in (item, plan.line_label) if x)
        notes = "".join(
            [", khoản chi lớn nhất" if plan.top else "", ", trả nhiều lần" if plan.frequent else ""]
        )
        parts.append(f"Khoản chi của khách hàng: {{category}} ({about}), {{amount}} trong tháng{notes}.")
    elif plan.kind.startswith("again"):
        parts.append(f"Khoản chi {{category}} ({item}) đã được nhắc ở trên.")
    elif "spent" in plan.slots:
        parts.append("Tổng chi tiêu của khách hàng: {spent} trong tháng.")
    parts.append("Chỗ trống, theo thứ tự: " + " ".join(f"{{{s}}}" for s in plan.slots) + ".")
    return " ".join(parts)


def prompt_text(plan: SlotPlan) -> str:
    """The prompt's own words, which no sentence may copy (the checker's instructions)."""
    return f"{SYSTEM}\n{user_message(plan)}"


def messages(plan: SlotPlan) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user_message(plan)}]


def grammar(plan: SlotPlan) -> str:
    """GBNF: free text without digits, braces or sentence ends between the slots, each slot once and in order,
    every repeat bounded (an unbounded rule can loop to max_tokens), one full stop at the end."""
    body = " gap ".join(f'"{{{s}}}"' for s in plan.slots)
    return (
        f"root ::= lead {body} tail\n"
        f"lead ::= c{{2,{SEGMENT_CHARS}}}\n"
        f"gap ::= c{{1,{SEGMENT_CHARS}}}\n"
        f'tail ::= c{{0,{SEGMENT_CHARS}}} "."\n'
        'c ::= [^0-9{}\\n.%:;!?"()<>*#_=+/\\\\|@$&^~`\\[\\]]\n'
    )


# ---------------------------------------------------------------------------------------------- the answer
def fill(plan: SlotPlan, text: str) -> str | None:
    """The sentence with every slot filled, or None when a slot is missing, repeated or not one of the plan's,
    or a brace is left that is no slot ("{Amount}", an engine without the grammar)."""
    text = " ".join(unicodedata.normalize("NFC", text).strip().split())
    if re.search(r"[{}]", _SLOT.sub(" ", text)):
        return None
    found = _SLOT.findall(text)
    if sorted(found) != sorted(plan.slots) or any(s not in plan.values for s in found):
        return None
    filled = _SLOT.sub(lambda m: plan.values[m.group(1)], text)
    return as_sentence(filled)


@functools.cache
def _vocabulary() -> frozenset[str]:
    """Every word the writer's training sentences use (``writer_data``): the model may recombine these, and
    use the words of the service's own text and labels, but a word from nowhere ("săn chép các món ăn" for a pet
    shop) is invention."""
    from finadvisor.advisor.writer_seeds import ACTIONS, GET, SEEDS

    texts = [t for seeds in SEEDS.values() for t in seeds]
    texts += [a for actions in ACTIONS.values() for a in actions]
    texts += [v for verbs in GET.values() for v in verbs]
    texts += list(BENEFIT_LEADS.values())
    return frozenset(w for t in texts for w in _plain_words(_SLOT.sub(" ", t)))


def _plain_words(text: str) -> list[str]:
    return re.findall(r"[^\W\d_]+", text.lower())


def unknown_words(plan: SlotPlan, raw: str, service_text: str) -> list[str]:
    """The words of the model's own text (slots left out) found neither in the writer's vocabulary nor in the
    service's text, its gist or the user's item's label."""
    vocabulary = _vocabulary()
    own = set(_plain_words(f"{service_text} {plan.gist} {plan.line_label} {plan.names[0]}"))
    return [w for w in _plain_words(_SLOT.sub(" ", raw)) if w not in vocabulary and w not in own]


def syllables(text: str) -> int:
    return len(re.findall(r"\w+", text))


def gate(plan: SlotPlan, raw: str, sentence: str | None, checker: Checker, pick: Pick) -> list[str]:
    """Why a filled sentence may not be shown (empty: it may): slots, the checker's truth tests, no copy of the
    description, no promise the service does not make, no advice to spend more, a bounded length."""
    if sentence is None:
        return ["slots missing, repeated or unknown"]
    raw = unicodedata.normalize("NFC", raw)
    problems = list(checker.sentence_problems(sentence, pick.service))
    if re.search(r"\d", _SLOT.sub(" ", raw)):
        problems.append("a digit outside the slots")
    words = syllables(_SLOT.sub(" ", raw)) + len(plan.slots)
    if not MIN_SYLLABLES <= words <= MAX_SYLLABLES:
        problems.append(f"{words} syllables (want {MIN_SYLLABLES}-{MAX_SYLLABLES})")
    runs = _grams(sentence, COPY_RUN) & _grams(pick.service.description, COPY_RUN)
    if runs:
        problems.append(f"copies {COPY_RUN} syllables of the catalog description")
    free = fold(_SLOT.sub(" ", raw))
    own = fold(pick.service.text())
    promised = _BENEFIT_PROMISES.get(plan.benefit_kind, set())
    for word, backing in _PROMISES.items():
        if re.search(rf"(?<!\w){word}(?!\w)", free) and word not in promised:
            if not any(re.search(rf"(?<!\w)(?:{b})(?!\w)", own) for b in backing):
                problems.append(f"promises '{word}', which the service does not state")
    if re.search(r"lớn nhất|nhiều nhất", raw, re.I) and not plan.top:
        problems.append("calls the item the largest, which it is not")
    if re.search(r"nhiều lần|thường xuyên|hằng ngày|mỗi ngày|liên tục", raw, re.I) and not plan.frequent:
        problems.append("calls the item frequent, which it is not")
    if _SPEND_MORE.search(raw):
        problems.append("advises spending more")
    if not re.search(r"(?<!\w)bạn(?!\w)", _SLOT.sub(" ", raw), re.I):
        problems.append("does not speak to the user ('bạn')")
    if _SCAFFOLD.search(raw):
        problems.append("repeats the prompt's scaffolding")
    if _INTO_SERVICE.search(raw) and not plan.lead:
        problems.append("says the user's money already went into the service")
    if "surplus" in plan.slots and _IDLE_MISREAD.search(raw):
        problems.append("calls the idle money spent or saved")
    if "benefit" in plan.slots:
        lead = BENEFIT_LEADS.get(plan.benefit_kind, "")
        before = raw.split("{benefit}", 1)[0].split()[-3:]
        if not lead or not re.search(rf"(?<!\w)(?:{lead})(?!\w)", " ".join(before), re.I):
            problems.append("the benefit is not led by what it is (nhận lại, tiết kiệm, sinh lời)")
    if strange := unknown_words(plan, raw, pick.service.text()):
        problems.append(f"words outside the writer's vocabulary: {' '.join(strange[:3])}")
    if re.search(r"\w\{|\}\w", raw):
        problems.append("a slot glued to a word")
    pairs = [p for p in zip(free.split(), free.split()[1:], strict=False)]
    if len(pairs) != len(set(pairs)):
        problems.append("repeats itself")
    return problems


def shown(plan: SlotPlan, sentence: str) -> str:
    return f"{plan.lead} {sentence}".strip()
