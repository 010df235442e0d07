"""Faithfulness: every sentence the model writes is checked against the user's history, never assumed true.

A sentence fails when
- an amount in it is neither next to its own category's name nor a stated total ("Bạn chi 15.000.000 đ tiền
  điện" where 15,000,000 is the tuition);
- a percentage in it is none of the computed shares (nor a figure of the service's own catalog text);
- it speaks of a spending topic the user does not have (an electricity bill for a user without one);
- it is copied from the prompt's instructions (4-word overlap), or only restates the prompt's data;
- it is not Vietnamese.
A reason shown is the advisor's own fact clause (the user's category, amount, share and count: computed, so
always true) followed by the model's sentence on what the service does for that spending. A failing sentence is
dropped; when none is left, the template stands in (``wording.template_reason``: the benefit in đồng of the
catalog's stated figure where one applies, else the catalog description). An amount worded as an estimate
("khoảng 170.000 đ") passes when it is the benefit the advisor computed for that service. The tests run
the same checker on the fact clauses and templates.

    checker = Checker(facts, picks, instructions, data)
    verdict = checker.check_reason(model_text, pick)     # verdict.text is what the user sees
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from finadvisor.advisor.catalog_facts import CatalogFacts, estimate
from finadvisor.advisor.category_map import fold
from finadvisor.advisor.contract import is_vietnamese
from finadvisor.advisor.evidence import Facts, Pick
from finadvisor.advisor.ranker import is_debt
from finadvisor.advisor.topics import MEANS, load_topics
from finadvisor.advisor.wording import as_sentence, fact_clause, template_reason
from finadvisor.catalog import Service

_SENTENCE_END = re.compile(r"(?<=[.!?…;])\s+")
_AMOUNT = re.compile(r"(?<![\d.,])(\d{1,3}(?:[.,]\d{3})+|\d{4,})(?![\d])")
_MILLIONS = re.compile(r"(?<![\d.,])(\d+(?:[.,]\d+)?)\s*(triệu|tr\b|nghìn|ngàn|k\b)", re.I)
_PERCENT = re.compile(r"(\d+(?:[.,]\d+)?)\s*%")
MAX_REASON_SENTENCES = (
    1  # after the fact clause: one sentence on the service (a looping model repeats itself)
)
_COPY_NGRAM = 4
_COPY_SHARE = 0.5
_COPY_RUN = 5  # any 5 consecutive words of the instructions is a copy ("khoản chi ghi cạnh dịch vụ")
# The prompt's scaffolding leaking into the answer: list markers, "lý do:", "Dưới đây là…", JSON brackets, a
# sentence that ends in a colon or an open "khoản chi" with nothing after it.
_LEAK = re.compile(r"[{}\[\]]|\blý do\b|dưới đây|sau đây|:\s*$|^\d+\.\s|\bkho[aả]n chi\s*[.:]?$", re.I)
_MIN_WORDS = 5
_ESTIMATE_WORD = re.compile(r"\bkhoảng\s*$", re.I)
# "5 USD", "$20", "3,5 triệu USD" (folded: "3 5 trieu usd"), "5 euros"; a rate quoted in đồng is not one
_FOREIGN_AMOUNT = re.compile(
    r"\$\s*\d|\d\s*\$|\d\s*(?:(?:trieu|nghin|ngan|ty|k)\s+)?(?:usd|dollars?|do la|eur|euros?)\b"
    r"|\b(?:usd|eur)\s*\d(?![\d\s]*(?:d|dong|vnd)\b)"
)


def topics(text: str) -> set[str]:
    """The spending topics a text speaks of, read with the one spending lexicon (``spending_topics.csv``) the
    ranker and the query builder read too (issue 23): longer phrases first, so "tiền điện thoại" is a phone
    top-up and never an electricity bill, and "ví điện tử" is a wallet."""
    return {t.id for t in load_topics().topics_in(text)}


def _claims(text: str) -> set[str]:
    """The spending topics a sentence claims of the user: saving, investing and the ways money moves
    ("giúp bạn tiết kiệm", "ví điện tử") are advice and means, and "khác" (other) is no topic at all: none is a
    spending the user might lack."""
    lexicon = load_topics().topics
    return {t for t in topics(text) if lexicon[t].flow == "spending" and t not in MEANS and t != "other"}


def _related(topic: str, allowed: set[str]) -> bool:
    """A topic is allowed when it is one of the allowed topics, one they include ("Hóa đơn" speaks of
    electricity) or one that includes them."""
    lexicon = load_topics().topics
    own = lexicon.get(topic)
    return (
        topic in allowed
        or any(topic in lexicon[a].includes for a in allowed if a in lexicon)
        or (own is not None and bool(set(own.includes) & allowed))
    )


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]


def _number(text: str) -> float:
    return float(re.sub(r"[.,]", "", text))


def _words(text: str) -> list[str]:
    """Folded words without punctuation: the model's 'Vietjet Air' is the data's "Vietjet Air"."""
    return re.findall(r"\w+", fold(text))


def _grams(text: str, n: int) -> set[tuple[str, ...]]:
    words = _words(text)
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _mentions(folded_text: str, name: str) -> bool:
    key = fold(name)
    return bool(key) and re.search(rf"(?<!\w){re.escape(key)}(?!\w)", folded_text) is not None


@dataclass
class Verdict:
    text: str  # the text shown (the model's when it passed, else the template)
    raw_problems: list[str]  # what was wrong with the model's text (empty: it passed as written)
    template: bool  # the template stands in for the model's text
    generic: bool  # the model's text cites none of the user's categories


class Checker:
    def __init__(
        self,
        facts: Facts,
        picks: list[Pick],
        instructions: str = "",
        data: str = "",
        catalog: CatalogFacts | None = None,
    ) -> None:
        self.facts = facts
        self.catalog = catalog
        self.picks = picks
        self._instructions = _grams(instructions, _COPY_NGRAM)
        self._data = _grams(data, _COPY_NGRAM)
        self._instruction_runs = _grams(instructions, _COPY_RUN)
        self._by_amount: dict[int, list[str]] = {}
        for c in (*facts.categories, *facts.saved):
            self._by_amount.setdefault(round(c.amount), []).append(c.name)
        self._totals = {
            round(facts.spent),
            round(facts.earned),
            round(abs(facts.surplus)),
            round(facts.put_aside),
            round(facts.received),
        } - {0}
        self._earnings = {round(c.amount): c.name for c in facts.earnings}
        self._shares = {round(100 * c.share) for c in facts.categories} | {
            round(100 * c.share) for c in facts.earnings
        }
        if facts.earned:
            self._shares |= {round(100 * facts.saved_share), round(100 * facts.spent / facts.earned)}
        self.picks = list(picks)
        # the benefits in đồng the advisor computed (catalog rate × the user's own amount): allowed as estimates
        self._estimates: dict[str, set[int]] = {}
        for i, pick in enumerate(self.picks):
            if (benefit := estimate(pick, facts, self.picks[:i], catalog)) is not None:
                self._estimates.setdefault(pick.service.link, set()).add(benefit.amount)
        self.user_topics: set[str] = set()
        for c in facts.categories:
            self.user_topics |= (
                topics(c.name) | ({c.topic} if c.topic else set()) | ({"debt"} if is_debt(c.name) else set())
            )
        for pick in picks:  # "Grab" speaks of transport through the service it was matched to
            if any(e.kind == "category" for e in pick.evidence):
                self.user_topics |= topics(pick.service.service)

    # ------------------------------------------------------------------------------------------ sentences
    def sentence_problems(self, sentence: str, service: Service | None = None) -> list[str]:
        problems: list[str] = []
        folded = fold(sentence)
        figures = sentence  # figures inside a category's own name ("Vay nóng 0%") are the user's, not claims
        for c in self.facts.lines():
            figures = re.sub(re.escape(c.name), " ", figures, flags=re.I)
        own = (
            {round(_number(raw)) for raw in _AMOUNT.findall(service.text())} if service is not None else set()
        )
        for m in _AMOUNT.finditer(
            figures
        ):  # the service's own figures ("giảm đến 50.000 đ") are the catalog's
            raw = m.group(1)
            if round(_number(raw)) not in own and not self._is_estimate(
                round(_number(raw)), figures[: m.start()], service
            ):
                problems += self._amount_problem(round(_number(raw)), raw, folded)
        for raw, unit in _MILLIONS.findall(figures):
            scale = 1_000_000 if unit.lower() in ("triệu", "tr") else 1_000
            value = float(raw.replace(",", ".")) * scale
            known = [a for a in self._known_amounts() if abs(a - value) <= 0.05 * max(value, 1)]
            if not known:
                problems.append(f"amount {raw} {unit} is not in the history")
            elif all(self._amount_problem(a, raw, folded) for a in known):
                problems.append(f"amount {raw} {unit} is not next to its own category")
        allowed_pct = set(self._shares)
        if service is not None:
            allowed_pct |= {round(float(p.replace(",", "."))) for p in _PERCENT.findall(service.text())}
            if self.catalog is not None:  # the reviewed catalog figures (service_facts.csv)
                allowed_pct |= {
                    round(f.value) for f in self.catalog.of(service.link) if f.unit.startswith("%")
                }
        for raw in _PERCENT.findall(figures):
            value = float(raw.replace(",", "."))
            if not any(abs(value - a) <= 1 for a in allowed_pct):
                problems.append(f"percentage {raw}% is none of the computed shares")
        # a sentence about the service may name what the service itself covers (its catalog text)
        allowed = self.user_topics | (topics(service.text()) if service is not None else set())
        # read without the user's own category names, which are theirs whatever they say ("Be" is not "bé")
        for topic in sorted(t for t in _claims(figures) if not _related(t, allowed)):
            problems.append(f"speaks of {topic}, which the user does not spend on")
        grams = _grams(sentence, _COPY_NGRAM)
        if grams and (
            len(grams & self._instructions) / len(grams) >= _COPY_SHARE
            or _grams(sentence, _COPY_RUN) & self._instruction_runs
        ):
            problems.append("copied from the prompt")
        elif grams and len(grams & self._data) / len(grams) >= _COPY_SHARE:
            problems.append("only restates the prompt's data")
        if _LEAK.search(figures.strip()) or len(sentence.split()) < _MIN_WORDS:
            problems.append("not a sentence (prompt scaffolding or a fragment)")
        # neither the user's own (Vietnamese) category names nor a service's name make English Vietnamese
        prose = sentence  # service names first: "Ưu đãi ăn uống" holds the category "Ăn uống"
        names = {p.service.service for p in self.picks} | ({service.service} if service else set())
        for name in sorted(names | {c.name for c in self.facts.lines()}, key=len, reverse=True):
            prose = re.sub(re.escape(name), " ", prose, flags=re.I)
        if not is_vietnamese(prose):
            problems.append("not Vietnamese")
        if _FOREIGN_AMOUNT.search(
            folded
        ):  # "5 USD", "$20"; a service that exchanges "USD, EUR" states no amount
            problems.append("amount in another currency")
        return problems

    def _is_estimate(self, value: int, before: str, service: Service | None) -> bool:
        """An estimate worded as one ("khoảng 170.000 đ") equal to a benefit the advisor computed for this
        service (``catalog_facts.estimate``)."""
        return (
            service is not None
            and value in self._estimates.get(service.link, set())
            and _ESTIMATE_WORD.search(before) is not None
        )

    def _known_amounts(self) -> set[int]:
        return set(self._by_amount) | self._totals | set(self._earnings)

    def _amount_problem(self, value: int, raw: str, folded: str) -> list[str]:
        if value in self._totals:
            return []
        names = self._by_amount.get(value, [])
        if any(_mentions(folded, n) for n in names):
            return []
        if value in self._earnings and (
            _mentions(folded, self._earnings[value]) or "thu nhap" in folded or "luong" in folded.split()
        ):
            return []
        if not names and value not in self._earnings:
            return [f"amount {raw} is not in the history"]
        return [f"amount {raw} is not next to its own category"]

    def cites(self, text: str, pick: Pick | None = None) -> bool:
        """Does ``text`` name one of the user's categories or quote one of their amounts (for the savings
        signal: the income or the surplus)?"""
        folded = fold(text)
        if any(_mentions(folded, c.name) for c in self.facts.categories):
            return True
        values = {round(_number(raw)) for raw in _AMOUNT.findall(text)}
        if values & (set(self._by_amount) | self._totals):
            return True
        saving = pick is not None and any(e.kind == "surplus" for e in pick.evidence)
        # a second service for the same idle money refers back to it ("Khoản tiền còn dư nói trên"), once stated
        return saving and (
            "thu nhap" in folded or "con du noi tren" in folded or bool(values & set(self._earnings))
        )

    def split(self, text: str) -> list[str]:
        """Sentences, never cut inside one of the user's category names ("Khám bệnh; DROP TABLE")."""
        names = sorted({c.name for c in self.facts.categories}, key=len, reverse=True)
        protected = " ".join(text.split())
        for i, name in enumerate(names):
            protected = protected.replace(name, f"\x00{i}\x00")
        out = []
        for part in sentences(protected):
            for i, name in enumerate(names):
                part = part.replace(f"\x00{i}\x00", name)
            out.append(part)
        return out

    # ------------------------------------------------------------------------------------------- repair
    def check_reason(self, text: str | None, pick: Pick) -> Verdict:
        """The fact clause, then the model's first true sentence about the service, else the service's catalog
        description. ``generic``: the model's own text cites none of the user's categories (counted, not
        penalised: the fact clause cites them)."""
        before = self.picks[: self.picks.index(pick)] if pick in self.picks else []
        fact = fact_clause(pick, self.facts, before)
        template = template_reason(pick, self.facts, before, self.catalog)
        if not text:
            return Verdict(template, ["missing"], True, True)
        parts = self.split(text)
        found = [
            self.sentence_problems(s, pick.service)
            + ([] if self.cites(s, pick) or _about(s, pick.service) else ["says nothing specific"])
            for s in parts
        ]
        good = list(dict.fromkeys(s for s, p in zip(parts, found, strict=True) if not p))[
            :MAX_REASON_SENTENCES
        ]
        problems = [p for ps in found for p in ps]
        generic = not self.cites(text, pick)
        if good:
            return Verdict(f"{fact} {as_sentence(good[0])}", problems, False, generic)
        return Verdict(template, problems, True, generic)


# word pairs every service text has: sharing one says nothing about this service
_COMMON_PAIRS = {
    ("dich", "vu"),
    ("cua", "ban"),
    ("cho", "ban"),
    ("giup", "ban"),
    ("thanh", "toan"),
    ("ban", "co"),
    ("co", "the"),
    ("hang", "thang"),
    ("moi", "ngay"),
    ("tien", "loi"),
}


def _about(sentence: str, service: Service) -> bool:
    """Does the sentence speak of what this service does (two words in a row of its catalog text)?
    "Dịch vụ này rất tiện lợi cho bạn" is true of every service and says nothing."""
    return bool((_grams(sentence, 2) & _grams(service.text(), 2)) - _COMMON_PAIRS)
