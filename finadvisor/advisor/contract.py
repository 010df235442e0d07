"""The advisor's output contract, and the code that makes the LLM keep it.

    {"summarization": "...", "currency": "VND",
     "recommendations": [{"service": "...", "link": "...", "recommendation": "...",
                          "evidence": [{"item": "Đi chợ", "amount": 5200000.0, "count": 28, "share": 0.453}]}]}

The seed's three string fields per recommendation are unchanged; ``evidence`` and ``currency`` were added next to
them (with defaults, so older cached answers still read) for front ends that format, sort or localise the figures
themselves. :data:`EXAMPLE` is a real answer (``finadvisor recommend`` on the demo history ``chi-noi-tro.json``)
and is what ``/openapi.json`` shows.

The LLM never writes a link and never chooses a service: the ranker chose them, and generation is constrained by
a JSON schema whose item i has the constant ``service`` of the ranker's pick i. The output is parsed here (never
trusted): free text loses anything a reader could open, and must be Vietnamese; links are copied from the
catalog. 2-3 distinct services. Whether the text is *true* is ``faithfulness.py``'s job.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from finadvisor.advisor.evidence import Pick

MIN_RECS, MAX_RECS = 2, 3
# Letters that exist only in Vietnamese orthography (plus the tone-marked vowels): their presence is a cheap,
# reliable signal that a text is Vietnamese rather than English or Chinese.
_VI_CHARS = re.compile(r"[ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]", re.I)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
# Anything a reader could open: scheme URLs (any scheme, "lazycat://bill" too), script schemes without slashes,
# "www." names, and bare domains ("bit.ly/abc", "example.com/x", "evil.vn"): a host with a path, or a host
# ending in a common top-level domain. "TP.HCM" or "1.350.000 đ" are neither.
_TLDS = (
    "com|net|org|vn|io|ly|me|co|info|biz|xyz|app|dev|link|top|site|online|shop|store|click|gl|to|cc|ru|cn|"
    "us|uk|tk|ml|ga|cf|gq|pw|ws|su|asia|club|live|fun|icu|vip|win|bid|loan|work|page|tv|ai|gg|so|sh|id|in"
)
_URL = re.compile(
    r"(?i)\b[a-z][a-z0-9+.-]*://\S*|\b(?:javascript|vbscript|data|file):\S+|\bwww\.\S+"
    r"|\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}/\S*"
    rf"|\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:{_TLDS})\b(?!\w|\.\w)(?::\d+)?(?:/\S*)?"
)


CURRENCY = "VND"  # the spending API's amounts (history.py bounds them in dong)
# A real answer: `finadvisor recommend --history finadvisor/data/histories/chi-noi-tro.json` (writer=catalog).
EXAMPLE: dict[str, Any] = {
    "summarization": "Tháng này bạn chi 11.480.000 đ. Ví của bạn nhận thêm 15.000.000 đ (Chồng chuyển). Chi nhiều nhất cho Đi chợ (5.200.000 đ, 45%) và Học phí cho con (3.500.000 đ, 30%).",
    "recommendations": [
        {
            "service": "Đi chợ online",
            "link": "https://finadvisor.vn/dich-vu/di-cho-online",
            "recommendation": "Tháng này bạn chi 5.200.000 đ cho Đi chợ qua 28 giao dịch (45% tổng chi). Đi chợ online: Mua thực phẩm tươi, rau củ, đồ dùng gia đình từ siêu thị và chợ online, giao hàng trong 2 giờ, thanh toán bằng ví và nhận ưu đãi cho đơn hàng tạp hóa hằng tuần.",
            "evidence": [{"item": "Đi chợ", "amount": 5200000.0, "count": 28, "share": 0.453}],
        },
        {
            "service": "Đóng học phí",
            "link": "https://finadvisor.vn/dich-vu/hoc-phi",
            "recommendation": "Tháng này bạn chi 3.500.000 đ cho Học phí cho con (30% tổng chi). Đóng học phí: Đóng học phí cho trường mầm non, phổ thông, đại học và trung tâm ngoại ngữ liên kết, tra cứu khoản phải nộp theo mã học sinh, sinh viên và nhận biên lai điện tử.",
            "evidence": [{"item": "Học phí cho con", "amount": 3500000.0, "count": 1, "share": 0.3049}],
        },
    ],
    "currency": "VND",
}


class EvidenceItem(BaseModel):
    """One line of the user's own history behind a recommendation, as numbers."""

    item: str = Field(
        description="The spending item (category name) as the history names it, less anything a "
        "reader could open (links)."
    )
    amount: float = Field(
        ge=0, description="What the user spent on it this month, in `currency` (a number, not formatted)."
    )
    count: int = Field(ge=0, description="How many transactions it holds (0 when the history does not say).")
    share: float = Field(ge=0, le=1, description="Its share of the month's total spending, 0..1.")
    kind: Literal["spending", "saving", "investing", "income", "inflow"] = Field(
        "spending",
        description="How a wallet counts the line: spending; saving or investing (a transfer into the "
        "user's own savings, funds, gold or stocks: not spending); income (salary, pension, wages, business "
        "revenue); inflow (money into the wallet that is not income: received transfers, top-ups, refunds, "
        "cashback).",
    )


class Recommendation(BaseModel):
    service: str = Field(description="The service's name, exactly as in the catalog.")
    link: str = Field(
        description="The service's deep link, copied from the catalog (never written by the model)."
    )
    recommendation: str = Field(
        description="Why this service, in Vietnamese: the user's own figures, then what "
        "the service does for them."
    )
    evidence: list[EvidenceItem] = Field(
        default_factory=list,
        description="The spending items behind this "
        "recommendation, strongest first; empty when it rests on income left "
        "unspent, a debt, or nothing specific.",
    )


class AdvisorResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    summarization: str = Field(
        description="A short Vietnamese summary of the month's spending, computed from the history."
    )
    recommendations: list[Recommendation] = Field(
        min_length=MIN_RECS, max_length=MAX_RECS, description="2-3 services from the catalog, best first."
    )
    currency: str = Field(CURRENCY, description="ISO 4217 code of every amount in `evidence`.")


def evidence_items(pick: Pick) -> list[EvidenceItem]:
    """The structured facts of one pick: its categories, strongest first, as numbers. A name is the spending API's
    free text, so it loses anything a reader could open, as the sentences that quote it do."""
    return [
        EvidenceItem(
            item=strip_links(c.name, keep=[c.name]),
            amount=c.amount,
            count=c.count,
            share=round(min(max(c.share, 0.0), 1.0), 4),
            kind=c.kind,
        )  # type: ignore[arg-type]
        for c in pick.categories()
    ]


class OutputInvalid(ValueError):
    """The LLM output broke the contract; the message says how (it is then repaired with template sentences)."""


def is_vietnamese(text: str) -> bool:
    return len(_VI_CHARS.findall(text)) >= 2 and not _CJK.search(text)


_EXPLICIT_LINK = re.compile(r"(?i)://|\bwww\.|\b(?:javascript|vbscript|data|file):")


def strip_links(text: str, keep: Iterable[str] = ()) -> str:
    """Free text without anything a reader could open (also applied to template sentences, which quote the
    spending API's category names). ``keep``: the user's own category names, which are never cut (issue 23): a
    card descriptor such as "APPLE.COM/BILL" or "NETFLIX.COM" looks like a domain but is what the user's
    statement says. A name holding an explicit link (a scheme, "www.") is not kept: that part goes."""
    text = " ".join(text.split())
    names = sorted(
        {n for n in keep if n and not _EXPLICIT_LINK.search(n) and n in text}, key=len, reverse=True
    )
    slots: dict[str, str] = {}
    for i, name in enumerate(names):
        slot = f"\x00{i}\x00"
        slots[slot] = name
        text = text.replace(name, slot)
    text = " ".join(_URL.sub("", text).split())
    for slot, name in slots.items():
        text = text.replace(slot, name)
    return text


MAX_TEXT_CHARS = 6_000  # a fact clause plus the longest catalog description (5,000 characters)
MAX_EVIDENCE = 100  # a history holds at most 100 spending categories


def cached_problem(response: AdvisorResponse) -> str | None:
    """Why a cached answer may not be served, or None. Whoever can write to the cache (a shared Redis) could
    plant text, so a hit's free text is held to what a fresh answer passes: no link, 10 to
    :data:`MAX_TEXT_CHARS` characters, Vietnamese; the currency is ours; evidence is bounded like a history.
    (The services and links are checked against the catalog by the advisor.)"""
    texts = [
        ("summarization", response.summarization),
        *((f"recommendation {i}", r.recommendation) for i, r in enumerate(response.recommendations)),
    ]
    for field, text in texts:
        if strip_links(text, keep=[e.item for r in response.recommendations for e in r.evidence]) != " ".join(
            text.split()
        ):
            return f"{field} holds a link"
        if not 10 <= len(text) <= MAX_TEXT_CHARS:
            return f"{field} has {len(text)} characters"
        if not is_vietnamese(text):
            return f"{field} is not Vietnamese"
    if response.currency != CURRENCY:
        return f"currency {response.currency[:8]!r}"
    for rec in response.recommendations:
        if len(rec.evidence) > MAX_EVIDENCE or any(len(e.item) > 100 for e in rec.evidence):
            return "evidence beyond a history's bounds"
    return None


def _clean_text(text: Any, field: str) -> str:
    if not isinstance(text, str):
        raise OutputInvalid(f"{field} is not a string")
    cleaned = " ".join(text.split())
    # Links come only from the catalog: any URL the model wrote into free text is removed, not shown to users.
    cleaned = " ".join(_URL.sub("", cleaned).split())
    if len(cleaned) < 10:
        raise OutputInvalid(f"{field} is too short")
    if not is_vietnamese(cleaned):
        raise OutputInvalid(f"{field} is not in Vietnamese")
    return cleaned


def _load(text: str, finish_reason: str) -> dict[str, Any]:
    if finish_reason == "length":
        raise OutputInvalid("the output was truncated (finish_reason=length)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OutputInvalid(f"the output is not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("recommendations"), list):
        raise OutputInvalid("the output does not have the expected object shape")
    return data


# ------------------------------------------------------------------------------------ the explanation contract
def explain_schema(names: list[str]) -> dict[str, Any]:
    """The ranker has chosen the services: item i's ``service`` is the constant ``names[i]`` (a tuple via
    ``prefixItems``), so the model writes only one reason per service. No ``items`` key: llama.cpp's converter
    would then ignore ``prefixItems``. No summary: it is computed (``summary.py``); the model's summary sentence
    was kept in 0-23% of answers and cost 2-4 s of decoding per miss."""
    return {
        "x-guidance": {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "},
        "type": "object",
        "additionalProperties": False,
        "required": ["recommendations"],
        "properties": {
            "recommendations": {
                "type": "array",
                "minItems": len(names),
                "maxItems": len(names),
                "prefixItems": [
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["service", "recommendation"],
                        "properties": {"service": {"const": name}, "recommendation": {"type": "string"}},
                    }
                    for name in names
                ],
            },
        },
    }


_JSON_STRING = r'"((?:[^"\\]|\\.)*)"'
_SALVAGE_ITEM = re.compile(
    r'"service"\s*:\s*' + _JSON_STRING + r'\s*,\s*"recommendation"\s*:\s*' + _JSON_STRING
)


def _salvage(text: str) -> dict[str, Any] | None:
    """The complete reasons of a truncated output (constrained decoding makes every prefix well-formed, so a
    model that looped inside its third reason still wrote two usable ones)."""

    def unquote(raw: str) -> str | None:
        try:
            value = json.loads(f'"{raw}"')
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, str) else None

    items = [{"service": unquote(a), "recommendation": unquote(b)} for a, b in _SALVAGE_ITEM.findall(text)]
    return {"recommendations": items} if items else None


def parse_explanation(text: str, finish_reason: str, names: list[str]) -> tuple[list[str | None], str | None]:
    """One reason per chosen service (None where unusable), and what was wrong with the output as a whole (None
    when something usable was found). Never raises: the caller repairs with template sentences. A truncated
    output keeps its complete strings."""
    try:
        data = _load(text, finish_reason)
    except OutputInvalid as exc:
        salvaged = _salvage(text)
        if salvaged is None:
            return [None] * len(names), str(exc)
        data = salvaged

    def usable(value: Any, field: str) -> str | None:
        try:
            return _clean_text(value, field)
        except OutputInvalid:
            return None

    items = [i for i in data["recommendations"] if isinstance(i, dict)]
    by_name = {i.get("service"): i for i in items if isinstance(i.get("service"), str)}
    named = any(n in by_name for n in names)  # else an engine ignored the schema: take the items in order
    reasons: list[str | None] = []
    for position, name in enumerate(names):
        item = by_name.get(name) if named else (items[position] if position < len(items) else None)
        reasons.append(usable(item.get("recommendation"), "recommendation") if item else None)
    return reasons, None
