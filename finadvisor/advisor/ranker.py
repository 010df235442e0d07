"""The ranker decides which 2-3 services a user gets; the LLM only explains them.

Each spending category carries a weight (its share of money and of transactions, square-rooted so one big bill does
not silence everything else, as in ``catalog/query.py``). A known name gives its weight to the services of the
reviewed category map (``category_map.py``); a name the map does not know is given a spending topic by the lexicon
(``topics.py``: "Grab" is transport, "Long Châu" a pharmacy), whose vocabulary label is asked of the map. When the
map has no row for the running catalog (another company's), the topic goes to the services whose name names it
(else, for a brand-like name, whose description leads with it), found among the nearest services to the topic's
descriptive query; a catalog with no such service gets nothing for that topic rather than a near miss. Only a name
no topic knows is retrieved as it is. Two signals no single category shows are added, as a financial advisor would:
income far above spending points to savings and investment (``@surplus``), and card debt, loans or late fees point
to budgeting (``@debt``); a user in debt is never offered more credit. Every pick keeps its evidence (which of the
user's categories led to it), so the explanation can be checked against it. Blocking (retrieval may embed): run it
in a worker thread.

    picks = Ranker(index, load_category_map()).rank(history)
"""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
from pathlib import Path

from finadvisor.advisor import service_topics
from finadvisor.advisor.category_map import CategoryMap, fold
from finadvisor.advisor.evidence import CategoryFact, Evidence, Facts, Pick
from finadvisor.advisor.topics import MEANS, Topic, TopicLexicon, load_topics
from finadvisor.catalog import CatalogIndex, Service, WeightedQuery
from finadvisor.errors import ConfigError
from finadvisor.history import SURPLUS_MIN_RATIO, SpendingHistory

log = logging.getLogger(__name__)
MAX_CATEGORIES = 8
AMOUNT_SHARE = 0.6
PREFERENCE = (1.0, 0.5, 0.35)  # weight of a category's 1st, 2nd, 3rd mapped service
RETRIEVAL_DISCOUNT = 0.8  # a retrieved match is less certain than a reviewed one
SERVICE_TOPICS_MAX = 200_000  # cached readings of services (a 100k catalog fits; bounded if it churns)
CANDIDATES = 20  # nearest services to a topic's query among which the topic's services are looked for
DESCRIBED_DISCOUNT = 0.7  # a service whose description, not its name, names the topic
# share of income left unspent from which savings are suggested: "earns far more than they spend" (a user who
# keeps 25% is not idle money; 0.25 put savings on most users, 28% of them labelled relevant)
IDLE_RATIO = (
    0.6  # from this share of income unspent, a second savings service weighs almost as much as the first
)
SURPLUS_PREFERENCE = (1.0, 0.8)
SURPLUS_WEIGHT = (
    0.45  # at a 70% surplus about one category's weight: savings join the picks, rarely lead them
)
DEBT_WEIGHT = 0.9  # of the debt categories' own weight, given to budgeting
NAMED_SCAN_MAX = 5_000  # a line naming a catalog service outright is looked for in catalogs up to this size
SCATTERED_CATEGORIES = (
    5  # many categories with no lead (the largest under SCATTERED_LEAD): a budget planner helps
)
SCATTERED_LEAD = 0.3
THIRD_RATIO = 0.75  # a third service only when it is at least this close to the second
SAME_EVIDENCE_PENALTY = 0.5  # a service backed only by categories already explained counts less
SURPLUS_QUERY = "tiết kiệm, tích lũy và đầu tư khoản tiền nhàn rỗi để sinh lời"
# budgeting, not repayment: the debt categories already reach the repayment service through the map or the
# topic lexicon; the signal adds what a person in debt needs besides (a catalog's "trả nợ" service would win a
# query that speaks of repaying too)
DEBT_QUERY = "lập ngân sách, đặt hạn mức chi tiêu, theo dõi và quản lý chi tiêu hằng tháng"
FALLBACK_QUERY = "tiết kiệm sinh lời quản lý chi tiêu"


def is_debt(name: str) -> bool:
    """A debt, a loan or a late fee, read with the spending lexicon's "debt" topic (one source of truth with the
    ranker's topics and the checker, issue 23). A card's own fee (the lexicon's bank fees: "phí thường niên thẻ
    tín dụng") is not a debt; "Vay" is a loan only as written, with its diacritics ("Váy áo" is a dress)."""
    return _is_debt(load_topics(), name)


@functools.lru_cache(maxsize=50_000)
def _is_debt(lexicon: TopicLexicon, name: str) -> bool:
    read = {t.id for t in lexicon.topics_in(name)}
    whole = lexicon.topic_of(name)
    return ("debt" in read and "bank_fees" not in read) or (whole is not None and whole.id == "debt")


# a service that lends: a new card, pay-later, instalments, a loan; one that repays ("Trả nợ thẻ & khoản vay")
# does not lend
_CREDIT_OFFER = re.compile(
    r"\b(tra gop|tra sau|pay later|paylater|later|bnpl|vay|khoan vay|mo the tin dung|"
    r"the tin dung|credit card|credit line|loan|loans|installment|installments|"
    r"han muc tin dung|thau chi|ung luong|salary advance)\b"
)
_REPAYS = re.compile(
    r"\b(tra no|du no|thanh toan khoan vay|thanh toan the|tra khoan vay|quan ly khoan vay|repay|"
    r"repayment|tat toan)\b"
)


def offers_credit(service: Service) -> bool:
    """A service that lends, read from its name (a description mentions instalments in passing: "trả góp học
    phí 0%" does not make tuition payment a loan)."""
    name = fold(service.service)
    offer, repay = _CREDIT_OFFER.search(name), _REPAYS.search(name)
    if offer or repay:
        return bool(offer) and not repay
    if load_topics().topics_in(service.service, accents=True):
        return False  # a name that says what it is for ("Học phí") is not credit for instalments in passing
    # a brand-like name ("Thẻ Sóng Platinum", "Sóng Sau") says it in its description's first words
    lead = _lead(service)
    return bool(_CREDIT_OFFER.search(lead)) and not _REPAYS.search(lead)


def _lead(service: Service) -> str:
    return " ".join(fold(service.description).split()[:CREDIT_LEAD_WORDS])


CREDIT_LEAD_WORDS = 6
_CARD = re.compile(r"\b(the tin dung|credit card|mo the tin dung)\b")


def sells_debt(service: Service) -> bool:
    """Credit that is debt by design (pay-later, instalments, a loan, an overdraft, a salary advance): never
    offered unasked, to anyone. A rewards credit card is a way to pay, offered only to a user with income who is
    not in debt (``offers_credit``)."""
    return offers_credit(service) and not (_CARD.search(fold(service.service)) or _CARD.match(_lead(service)))


def _related(a: Topic, b: Topic) -> bool:
    return a.id == b.id or b.id in a.includes or a.id in b.includes


def _answers_debt(pick: Pick) -> bool:
    return any(
        e.kind == "debt" or (e.category is not None and is_debt(e.category.name)) for e in pick.evidence
    )


def category_weights(facts: Facts) -> list[tuple[CategoryFact, float]]:
    """The largest ``MAX_CATEGORIES`` categories with weights summing to 1."""
    cats = [c for c in facts.categories if c.amount > 0 or c.count > 0]
    total_count = sum(c.count for c in cats)
    rows = []
    for c in cats:
        share = (
            AMOUNT_SHARE * c.share + (1 - AMOUNT_SHARE) * c.count / total_count if total_count else c.share
        )
        rows.append((c, math.sqrt(max(share, 0.0))))
    rows.sort(key=lambda r: -r[1])
    rows = rows[:MAX_CATEGORIES]
    norm = sum(w for _, w in rows) or 1.0
    return [(c, w / norm) for c, w in rows]


class CatalogNames:
    """The running catalog's service names (folded, two words or more), each compiled once per catalog: the
    lines that name a service outright ("Chuyển tiền vào Heo Đất"). The reading of a line (``Facts.of``) and the
    services-in-use scan both ask it; a line is matched only against the names that start with one of its
    words, not against every name of the catalog."""

    def __init__(self, entries: list[tuple[Service, Topic | None]]) -> None:
        # by the first word of the name: a name found in a line has its first word among the line's words
        self._by_first: dict[str, list[tuple[int, str, re.Pattern[str], Service, Topic | None]]] = {}
        for at, (service, topic) in enumerate(entries):
            key = fold(service.service)
            words = _WORD.findall(key)
            if len(key.split()) >= 2 and words:
                pattern = re.compile(rf"(?<!\w){re.escape(key)}(?!\w)")
                self._by_first.setdefault(words[0], []).append((at, key, pattern, service, topic))

    def found(self, name: str) -> list[tuple[str, Service, Topic | None]]:
        """Every catalog name the line holds as whole words, in catalog order: (folded name, service, what it
        is about)."""
        folded = fold(name)
        hits = [
            entry
            for word in set(_WORD.findall(folded))
            for entry in self._by_first.get(word, ())
            if entry[2].search(folded)
        ]
        return [(key, service, topic) for _, key, _, service, topic in sorted(hits, key=lambda e: e[0])]

    def topic_in(self, name: str) -> Topic | None:
        """What the longest catalog name in the line is about, the first in catalog order among equals (a
        transfer service refines nothing)."""
        named = [
            (key, topic) for key, _, topic in self.found(name) if topic is not None and topic.id not in MEANS
        ]
        return max(named, key=lambda kv: len(kv[0]))[1] if named else None


_WORD = re.compile(r"\w+")


class Ranker:
    def __init__(
        self,
        index: CatalogIndex,
        category_map: CategoryMap,
        *,
        topics: TopicLexicon | None = None,
        max_picks: int = 3,
        min_picks: int = 2,
    ) -> None:
        self.index = index
        self.category_map = category_map
        self.topics = topics if topics is not None else load_topics()
        self.max_picks = max_picks
        self.min_picks = min_picks
        self._catalog: tuple[str, dict[str, Service]] | None = None
        self._lock = threading.Lock()
        self._service_topics: dict[tuple[str, str, str], tuple[set[str], set[str], str]] = {}
        self._names: tuple[str, CatalogNames] | None = None
        self._reviewed: dict[str, tuple[set[str], set[str], str]] = {}
        self.topic_file_version = "none"

    def use_topic_file(self, path: Path) -> None:
        """Read the catalog's topic file (``service_topics.py``): its reviewed rows win over the lexicon's
        reading; then write it again with a row per service of the current catalog. Blocking."""
        reviewed = service_topics.load_reviewed(path, set(self.topics.topics))
        with self._lock:
            self._reviewed = reviewed
            self._names = None
        catalog = self.catalog()
        if len(catalog) <= service_topics.MAX_SERVICES:
            rows = [(s.link, s.service, self._topics_of(s), s.link in reviewed) for s in catalog.values()]
            service_topics.write(path, rows)
        else:  # reading every service of a 100k catalog at open would cost minutes: it is read per request
            log.info(
                "service topics: %d services, more than %d: read per request, no file written",
                len(catalog),
                service_topics.MAX_SERVICES,
            )
        self.topic_file_version = service_topics.version(path)

    def catalog(self) -> dict[str, Service]:
        """Services by link, rebuilt whenever the index version changes (services added or removed)."""
        with self._lock:
            if self._catalog is None or self._catalog[0] != self.index.version:
                self._catalog = (self.index.version, {s.link: s for s in self.index.services()})
                # readings are keyed by link, name and description, so they stay true: a service added to a
                # 5,000-service catalog reads one service again, not all of them (about 1.4 ms each)
            return self._catalog[1]

    def _mapped(self, key: str) -> list[Service]:
        catalog = self.catalog()
        return [catalog[link] for link in self.category_map.links(key) if link in catalog]

    def _retrieved(self, text: str, k: int = 2) -> list[tuple[Service, float]]:
        hits = self.index.search_weighted([WeightedQuery(text, 1.0, text)], k=k)
        top = hits[0].score if hits and hits[0].score > 0 else 1.0
        return [(h.service, h.score / top) for h in hits]

    def _topics_of(self, service: Service) -> tuple[set[str], set[str], str]:
        """The spending topics a service's name names, the one its description leads with, and the one its name
        leads with (read with diacritics: a catalog's own text). Cached by what is read, so a service re-added
        under the same link with another name is read again."""
        key = (service.link, service.service, service.description)
        with self._lock:
            cached = self._reviewed.get(service.link) or self._service_topics.get(key)
        if cached is None:
            lead = self.topics.lead_topic(service.description, accents=True)
            first = self.topics.lead_topic(service.service, accents=True)
            names = {t.id for t in self.topics.topics_in(service.service, accents=True)}
            if lead is not None and first is not None and not _related(first, lead):
                # a name and a description that disagree: the description says what the service does ("An
                # Khang", a pharmacy's name, is health insurance here)
                names, first = set(), None
            cached = (names, {lead.id} if lead else set(), first.id if first else "")
            with self._lock:
                if len(self._service_topics) >= SERVICE_TOPICS_MAX:
                    self._service_topics.clear()
                self._service_topics[key] = cached
        return cached

    def topic_label(self, service: Service) -> str:
        """What kind of service this is, as its topic's label ("Ăn uống", "Tiết kiệm"): what the model writer is
        told of a service instead of its description (issue 24); "" when it reads as no topic."""
        names, lead, first = self._topics_of(service)
        # the name's lead, then the description's (a brand-like name that names nothing): the order the shipped
        # writer adapter was trained with (writer_data), so training and serving see the same gist
        for topic_id in (first, *sorted(lead), *sorted(names)):
            if topic_id and (topic := self.topics.topics.get(topic_id)) is not None:
                return topic.label
        return ""

    def _topic_services(self, topic: Topic, name: str, k: int = 2) -> list[tuple[Service, float]]:
        """The services for a spending topic on a catalog the map does not cover, among the topic query's nearest
        services. What a service is about is read from its name ("Tiền điện tự động"); a brand-like name that
        names no topic ("Ăn Ngon", "Heo Vàng") is read from the topic its description leads with. A catalog
        with no service for the topic gets none: the nearest service to "tiền thuê nhà" in a catalog without
        rent payment is the group fund whose description mentions splitting the rent, and that is not an answer.

        Order: services about the topic itself (their name leads with it, or a brand-like name's description
        does), then those whose name names it second ("Bảo hiểm và chăm sóc sức khỏe" is insurance first), then
        those of a topic it includes (flights, then travel insurance); within each, the service nearest the
        user's own words ("Khám thai" is a booking, not a pharmacy; "Dining out" a restaurant, not delivery)."""
        wanted = {topic.id, *topic.includes}

        def tier(service: Service) -> int | None:
            if self._is_about(service, topic.id):
                return 0
            names, described, lead = self._topics_of(service)
            if not names:
                return 2 if wanted & described else None
            if topic.id in names:
                return 1
            # a broad name whose description is about the topic itself ("Giải Trí Số": "Gia hạn Netflix, …")
            return 2 if lead in wanted or topic.id in described else 3 if wanted & names else None

        found = [
            (s, r, t)
            for s, r in self._retrieved(topic.query, CANDIDATES)
            if (t := tier(s)) is not None and not (topic.id == "debt" and offers_credit(s))
        ]  # a debt is answered by repaying it
        if len(found) > 1:
            near = {s.link: i for i, (s, _) in enumerate(self._retrieved(name, CANDIDATES))}
            found.sort(key=lambda f: (f[2], near.get(f[0].link, len(near))))
        if not found:
            return []
        top = found[0][1] or 1.0
        return [
            (s, min(r / top, 1.0) * (1.0 if self._topics_of(s)[0] else DESCRIBED_DISCOUNT))
            for s, r, _ in found[:k]
        ]

    def _savings(self) -> list[Service]:
        """A catalog's savings and investment services (the lexicon's "savings" topic, which includes gold, funds
        and stocks), nearest the surplus query first; plain retrieval only where no service is named so."""
        topic = self.topics.topics.get("savings")
        found = [s for s, _ in self._topic_services(topic, SURPLUS_QUERY, k=CANDIDATES)] if topic else []
        if not found:
            return [s for s, _ in self._retrieved(SURPLUS_QUERY, 2)]
        # a place to save it, then a place to invest it (the included gold, funds and stocks)
        saving = [s for s in found if self._is_about(s, "savings")]
        investing = [s for s in found if s not in saving]
        return (saving[:1] + investing[:1] + saving[1:] + investing[1:])[:2]

    def _is_about(self, service: Service, topic_id: str) -> bool:
        """The service is about this topic itself: its name leads with it, or, for a brand-like name that names
        no topic, its description does."""
        names, described, lead = self._topics_of(service)
        return lead == topic_id if names else topic_id in described

    def _planners(self) -> list[Service]:
        """The budget planner: the map's ``@debt`` rows, else the catalog's services about budgeting (a catalog
        without one has none: the nearest service to a budgeting query was once the yield account)."""
        topic = self.topics.topics.get("budgeting")
        return self._mapped("@debt") or (
            [s for s, _ in self._topic_services(topic, DEBT_QUERY, k=2) if self._is_about(s, "budgeting")]
            if topic
            else []
        )

    def _fallbacks(self, facts: Facts, in_use: dict[str, str], *, in_debt: bool) -> list[Service]:
        """What is true for everyone, when the history gives too little: a place for money (savings, then
        investing) the user does not use yet; the budget planner only where the history gives it a reason
        (spending above income, a debt, many categories with no lead); then the catalog's own fallback rows."""
        budget = self._planners()
        cats = facts.categories
        reason = in_debt or (len(cats) >= SCATTERED_CATEGORIES and cats[0].share < SCATTERED_LEAD)
        order = (budget if reason else []) + (self._mapped("@surplus") or self._savings())
        order += self._mapped("@fallback") or [s for s, _ in self._retrieved(FALLBACK_QUERY, 4)]
        order += list(self.catalog().values())
        planner = {s.link for s in budget}
        first = [
            s
            for s in order
            if s.link not in in_use and not offers_credit(s) and (reason or s.link not in planner)
        ]
        # a catalog too small to offer anything else (the post's four services): the planner, then what the
        # user already uses, said as such, rather than fewer than two services
        return (
            first
            + [s for s in order if s.link not in in_use and not offers_credit(s)]
            + [s for s in order if not offers_credit(s)]
        )

    def rank(self, history: SpendingHistory) -> list[Pick]:
        """The 2-3 services for this history, each with its evidence. A user in debt or spending more than they
        earn is never offered more credit (a new card, pay-later, an instalment plan or a loan)."""
        return self.read_and_rank(history)[1]

    def read_and_rank(self, history: SpendingHistory) -> tuple[Facts, list[Pick]]:
        """The history's reading and its 2-3 services, from one reading (the advisor writes from both)."""
        facts = self.facts(history)
        in_use = self.in_use(facts)
        return facts, self._pick(facts, in_use, self._scored(facts, in_use))

    def _pick(self, facts: Facts, in_use: dict[str, str], scored: list[Pick]) -> list[Pick]:
        in_debt = any(is_debt(c.name) for c in facts.categories) or (facts.earned > 0 and facts.surplus < 0)
        # an advisor does not sell debt: pay-later, instalments and loans are never offered unasked; a user in
        # debt, or without income, gets no credit at all (not even a card)
        no_card = in_debt or facts.earned <= 0
        ranked = [
            p for p in scored if not sells_debt(p.service) and not (no_card and offers_credit(p.service))
        ]
        return self._choose(ranked, facts, in_use, in_debt=in_debt)

    def scored(self, history: SpendingHistory) -> list[Pick]:
        """Every service with any evidence, best first (before the 2-3 are chosen)."""
        facts = self.facts(history)
        return self._scored(facts, self.in_use(facts))

    def explain(self, history: SpendingHistory) -> dict[str, object]:
        """How the ranking was made, for an operator (``finadvisor recommend --explain``): per line of the
        history, its kind (spending, saving, investing, income, inflow), the topic it was read as and how
        (map, lexicon, descriptor, learned, catalog name, abstained), whether it shows a service in use; then
        every candidate service with its score and the lines behind it, and the services chosen."""
        facts = self.facts(history)
        in_use = self.in_use(facts)
        scored = self._scored(facts, in_use)
        chosen = [p.service.link for p in self._pick(facts, in_use, scored)]
        lines = []
        for c in facts.lines():
            how = "map" if c.kind == "spending" and self._mapped(c.name) else c.how
            lines.append(
                {
                    "name": c.name,
                    "kind": c.kind,
                    "amount": c.amount,
                    "topic": c.topic or None,
                    "read_by": how or "abstained",
                    "debt": c.kind == "spending" and is_debt(c.name),
                    "shows_in_use": [link for link, name in in_use.items() if name == c.name],
                }
            )
        return {
            "lines": lines,
            "in_use": in_use,
            "candidates": [
                {
                    "service": p.service.service,
                    "link": p.service.link,
                    "score": round(p.score, 4),
                    "source": p.source,
                    "credit_offer": offers_credit(p.service),
                    "evidence": [
                        {
                            "kind": e.kind,
                            "line": e.category.name if e.category else None,
                            "weight": round(e.weight, 4),
                            "first_choice": e.primary,
                        }
                        for e in p.evidence
                    ],
                }
                for p in scored
            ],
            "chosen": chosen,
            "lexicon_version": self.topics.version,
            "category_map_version": self.category_map.version,
        }

    def facts(self, history: SpendingHistory) -> Facts:
        """The history as a wallet reads it, with this catalog's service names known (one reading for the
        ranker, the summary and the checker)."""
        return Facts.of(history, self.topics, self._service_names().topic_in)

    def _service_names(self) -> CatalogNames:
        catalog = self.catalog()
        with self._lock:
            cached = self._names
        if cached is not None and cached[0] == self.index.version:
            return cached[1]
        entries: list[tuple[Service, Topic | None]] = []
        if len(catalog) <= NAMED_SCAN_MAX:
            for service in catalog.values():
                _, described, lead = self._topics_of(service)
                entries.append((service, self.topics.topics.get(lead or next(iter(described), ""))))
        names = CatalogNames(entries)
        with self._lock:
            self._names = (self.index.version, names)
        return names

    def in_use(self, facts: Facts) -> dict[str, str]:
        """The catalog services this history shows the user already uses, by link, with the line that shows it:
        a line that is the service's own transaction (a top-up made in the app, a bill paid through it, a
        transfer into the yield account, a fund, gold or stock purchase, tickets or game cards bought in it),
        read from the lexicon's ``in_use`` topics, or a line that names a service of the catalog outright."""
        found: dict[str, str] = {}
        names = self._service_names()
        for cat in facts.lines():
            for _, service, _ in names.found(cat.name):  # "Chuyển tiền vào Lana Sinh Lời" names the service
                # a brand-like name ("Lana Sinh Lời", "Heo Đất") is the service; a descriptive one ("Thẻ tín dụng"
                # in "Trả nợ thẻ tín dụng") only on a line that reads as the app's own transaction
                if cat.in_use or cat.kind in ("saving", "investing") or not self._topics_of(service)[0]:
                    found.setdefault(service.link, cat.name)
            topic = self.topics.topics.get(cat.topic)
            if not cat.in_use or topic is None or any(v == cat.name for v in found.values()):
                continue
            own = self._mapped(cat.name)[:1] or self._mapped(topic.label)[:1]
            if not own:
                own = [
                    s
                    for s, _ in self._topic_services(topic, cat.name, k=CANDIDATES)
                    if self._is_about(s, topic.id)
                ][:1]
            for service in own:
                found.setdefault(service.link, cat.name)
        return found

    def _scored(self, facts: Facts, in_use: dict[str, str] | None = None) -> list[Pick]:
        scores: dict[str, Pick] = {}
        used = in_use or {}
        idle = facts.earned > 0 and facts.saved_share >= IDLE_RATIO

        def add(
            service: Service,
            weight: float,
            source: str,
            kind: str,
            cat: CategoryFact | None = None,
            primary: bool = True,
        ) -> None:
            # a service the user already uses is shown only for a further use: a larger balance for idle money
            if service.link in used and not (kind == "surplus" and idle):
                return
            pick = scores.setdefault(service.link, Pick(service, 0.0, source, in_use=service.link in used))
            pick.score += weight
            pick.evidence.append(Evidence(kind, cat, weight, primary))

        surplus_w = 0.0
        if facts.earned > 0 and facts.saved_share >= SURPLUS_MIN_RATIO:
            surplus_w = SURPLUS_WEIGHT * min(facts.saved_share, 1.0)
        scale = 1.0 - surplus_w / 2 if facts.categories else 0.0
        debt_w = 0.0
        debt_cats: list[CategoryFact] = []
        for cat, weight in category_weights(facts):
            w = weight * scale
            debt = is_debt(cat.name)
            if debt:
                debt_w += w * DEBT_WEIGHT
                debt_cats.append(cat)
            mapped = self._mapped(cat.name)
            topic = None
            if not mapped:  # "Trả góp điện thoại Home Credit" is a debt before it is a phone
                topic = (self.topics.topics.get("debt") if debt else None) or self.topics.topics.get(
                    cat.topic
                )
            if topic is not None and topic.id in MEANS:  # how money moved says nothing of what it was for
                continue
            if topic is not None:
                mapped = self._mapped(topic.label)
            if mapped:
                for i, (pref, service) in enumerate(zip(PREFERENCE, mapped, strict=False)):
                    add(service, w * pref, "map", "category", cat, primary=i == 0)
            elif topic is not None:
                for i, (service, rel) in enumerate(self._topic_services(topic, cat.name)):
                    add(
                        service,
                        w * RETRIEVAL_DISCOUNT * (rel if i == 0 else rel * PREFERENCE[1]),
                        "retrieval",
                        "category",
                        cat,
                        primary=i == 0,
                    )
            # a name no topic reads gets no service of its own (abstain rather than guess): retrieval by meaning
            # alone paired a wedding with pet food and a holiday with the water bill of the same city
        if debt_w:
            budget = self._planners()
            for i, (pref, service) in enumerate(zip(PREFERENCE, budget, strict=False)):
                for cat in debt_cats:
                    add(service, debt_w * pref / len(debt_cats), "debt", "debt", cat, primary=i == 0)
        if surplus_w:
            savings = self._mapped("@surplus") or self._savings()
            # idle money: a place to save it and a place to invest it, both answers to the same surplus
            prefs = SURPLUS_PREFERENCE if facts.saved_share >= IDLE_RATIO else PREFERENCE
            for i, (pref, service) in enumerate(zip(prefs, savings, strict=False)):
                add(
                    service,
                    surplus_w * pref,
                    "surplus",
                    "surplus",
                    primary=i == 0 or prefs is SURPLUS_PREFERENCE,
                )
        return sorted(scores.values(), key=lambda p: (-p.score, p.service.service))

    def _choose(
        self, ranked: list[Pick], facts: Facts, in_use: dict[str, str], *, in_debt: bool = False
    ) -> list[Pick]:
        chosen: list[Pick] = []
        pool = list(ranked)
        while pool and len(chosen) < self.max_picks:
            explained: set[str] = set().union(*(p.explains() for p in chosen))
            # the diversity rule: a pick whose every category is already explained adds little, except for a
            # user in debt, whose repayment and budgeting services both answer the debt
            values = [
                p.score
                * (
                    SAME_EVIDENCE_PENALTY
                    if p.covers() and p.covers() <= explained and not (in_debt and _answers_debt(p))
                    else 1.0
                )
                for p in pool
            ]
            at = max(range(len(pool)), key=lambda i: (values[i], -i))
            best = pool[at]
            if len(chosen) >= self.min_picks and values[at] < THIRD_RATIO * chosen[-1].score:
                break
            # a user in debt or spending more than they earn gets a third service only for the debt or savings
            if (
                in_debt
                and len(chosen) >= self.min_picks
                and not {"debt", "surplus"} & {e.kind for e in best.evidence}
            ):
                break
            pool.remove(best)
            chosen.append(best)
        if chosen and all(p.in_use for p in chosen):  # explore first: at least one service not used yet
            fresh = [p for p in pool if not p.in_use]
            if fresh:
                chosen[-1] = fresh[0]
        if len(chosen) < self.min_picks:
            for service in self._fallbacks(facts, in_use, in_debt=in_debt):
                if len(chosen) >= self.min_picks:
                    break
                if service.link not in {p.service.link for p in chosen}:
                    chosen.append(
                        Pick(service, 0.0, "fallback", [Evidence("fallback")], in_use=service.link in in_use)
                    )
        if len(chosen) < self.min_picks:
            raise ConfigError(
                "the service catalog has fewer than 2 services to choose from; add services "
                "with 'finadvisor catalog add'"
            )
        return chosen
