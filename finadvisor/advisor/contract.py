"""The advisor's output contract, and the code that makes the LLM keep it.

    {"summarization": "...", "recommendations": [{"service": "...", "link": "...", "recommendation": "..."}]}

The LLM never writes a link and never names a service of its own: generation is constrained by a JSON schema
whose ``service`` field is an enum of the retrieved candidates, the output is then parsed and validated here
(never trusted), and links are copied from the catalog. 2-3 distinct services, Vietnamese text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, Field

from finadvisor.catalog import Service

MIN_RECS, MAX_RECS = 2, 3
# Letters that exist only in Vietnamese orthography (plus the tone-marked vowels): their presence is a cheap,
# reliable signal that a text is Vietnamese rather than English or Chinese.
_VI_CHARS = re.compile(r"[ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]", re.I)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
_NUMBER = re.compile(r"\d{1,3}(?:[.,]\d{3})+|\d{4,}")
_SENTENCE_END = re.compile(r"(?<=[.!?…;])\s+")
# Anything a reader could open: scheme URLs (any scheme, "lazycat://bill" too), script schemes without slashes,
# "www." names, and bare domains ("bit.ly/abc", "example.com/x", "evil.vn"): a host with a path, or a host
# ending in a common top-level domain. "TP.HCM" or "1.350.000 đ" are neither.
_TLDS = ("com|net|org|vn|io|ly|me|co|info|biz|xyz|app|dev|link|top|site|online|shop|store|click|gl|to|cc|ru|cn|"
         "us|uk|tk|ml|ga|cf|gq|pw|ws|su|asia|club|live|fun|icu|vip|win|bid|loan|work|page|tv|ai|gg|so|sh|id|in")
_URL = re.compile(
    r"(?i)\b[a-z][a-z0-9+.-]*://\S*|\b(?:javascript|vbscript|data|file):\S+|\bwww\.\S+"
    r"|\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}/\S*"
    rf"|\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:{_TLDS})\b(?!\w|\.\w)(?::\d+)?(?:/\S*)?")


class Recommendation(BaseModel):
    service: str
    link: str
    recommendation: str


class AdvisorResponse(BaseModel):
    summarization: str
    recommendations: list[Recommendation] = Field(min_length=MIN_RECS, max_length=MAX_RECS)


class OutputInvalid(ValueError):
    """The LLM output broke the contract; the message says how (used for the retry and the final error)."""


class TooFewServices(OutputInvalid):
    """Valid output that names too few distinct services; carries what was usable so it can be completed."""

    def __init__(self, message: str, summarization: str, recommendations: list[Recommendation]) -> None:
        super().__init__(message)
        self.summarization = summarization
        self.recommendations = recommendations


def is_vietnamese(text: str) -> bool:
    return len(_VI_CHARS.findall(text)) >= 2 and not _CJK.search(text)


def _item_schema(names: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["service", "recommendation"],
        "properties": {"service": {"type": "string", "enum": names}, "recommendation": {"type": "string"}},
    }


def more_schema(candidates: list[Service], low: int, high: int) -> dict[str, Any]:
    """Schema for completing an answer: only services not chosen yet, ``low``..``high`` more of them."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["recommendations"],
        "properties": {"recommendations": {"type": "array", "minItems": low, "maxItems": high,
                                           "items": _item_schema([c.service for c in candidates])}},
    }


def response_schema(candidates: list[Service]) -> dict[str, Any]:
    names = [c.service for c in candidates]
    # No minLength/maxLength: llama.cpp compiles bounded repetitions into a huge grammar (measured: 9x slower
    # decoding and a 24 s start). Lengths are enforced by max_tokens and by parse_output instead.
    # x-guidance (llguidance, used by llama.cpp and vLLM) turns off free whitespace: compact JSON, fewer tokens,
    # and no whitespace loops; other backends ignore the key.
    return {
        "x-guidance": {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "},
        "type": "object",
        "additionalProperties": False,
        "required": ["summarization", "recommendations"],
        "properties": {
            "summarization": {"type": "string"},
            "recommendations": {
                "type": "array",
                "minItems": MIN_RECS,
                "maxItems": MAX_RECS,
                "items": _item_schema(names),
            },
        },
    }


def strip_links(text: str) -> str:
    """Free text without anything a reader could open (also applied to template sentences, which quote the
    spending API's category names)."""
    return " ".join(_URL.sub("", " ".join(text.split())).split())


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


def _grounded_reason(reason: str, service: Service, allowed: set[int] | None) -> str:
    """The reason without sentences quoting amounts found neither in the history nor in the service's own
    catalog text (small models invent figures: "bạn chi 1.350.000 đ tiền điện" for a food deal). If nothing
    usable is left, OutputInvalid: the caller then falls back to the catalog description."""
    if allowed is None:
        return reason
    own = allowed | {int(re.sub(r"[.,]", "", m)) for m in _NUMBER.findall(service.text())}
    if not ungrounded_numbers(reason, own):
        return reason
    kept = " ".join(part for part in _SENTENCE_END.split(reason) if not ungrounded_numbers(part, own))
    return _clean_text(kept, "recommendation")


def _recommendations(items: list[Any], candidates: list[Service], taken: set[str],
                     allowed_numbers: set[int] | None = None) -> list[Recommendation]:
    """Usable recommendations, in order. An item naming a service outside the candidates breaks the contract;
    a repeated service is dropped; an unusable reason (too short, not Vietnamese) is replaced by the service's
    catalog description, and the item is dropped only when that is unusable too. With
    ``allowed_numbers``, invented amounts are taken out of reasons (``_grounded_reason``)."""
    by_name = {c.service: c for c in candidates}
    recs: list[Recommendation] = []
    for item in items:
        if not isinstance(item, dict):
            raise OutputInvalid("a recommendation is not an object")
        name = item.get("service")
        service = by_name.get(name) if isinstance(name, str) else None
        if service is None:
            raise OutputInvalid("a recommendation names a service outside the candidates")
        if service.link in taken:
            continue  # a repeated service adds nothing; distinctness is part of the contract
        try:
            reason = _grounded_reason(_clean_text(item.get("recommendation"), "recommendation"), service,
                                      allowed_numbers)
        except OutputInvalid:
            try:  # the pick is valid, its reason is not (English, empty): the catalog's own text stands in
                reason = _clean_text(service.description, "recommendation")
            except OutputInvalid:
                continue
        taken.add(service.link)
        recs.append(Recommendation(service=service.service, link=service.link, recommendation=reason))
    return recs


def ungrounded_numbers(text: str, allowed: set[int]) -> list[str]:
    """Amount-like numbers in ``text`` (1,000 and up) that are not among ``allowed`` (the history's figures)."""
    return [m for m in _NUMBER.findall(text) if int(re.sub(r"[.,]", "", m)) not in allowed]


def parse_output(text: str, finish_reason: str, candidates: list[Service],
                 fallback_summary: str | None = None, allowed_numbers: set[int] | None = None) -> AdvisorResponse:
    """Validate raw LLM output against the contract; links are taken from ``candidates``.

    ``fallback_summary`` (facts computed from the history) replaces a summary that is empty or not Vietnamese,
    so a weak summary does not cost a whole retry; without it such a summary is a contract violation. With
    ``allowed_numbers``, a summary quoting an amount that is not in the history (a hallucinated figure) is
    replaced by the fallback too, and invented amounts are taken out of the reasons."""
    data = _load(text, finish_reason)
    recs = _recommendations(data["recommendations"], candidates, set(), allowed_numbers)
    try:
        summary = _clean_text(data.get("summarization"), "summarization")
        if allowed_numbers is not None and ungrounded_numbers(summary, allowed_numbers):
            raise OutputInvalid("summarization quotes amounts that are not in the history")
    except OutputInvalid:
        if fallback_summary is None:
            raise
        summary = fallback_summary
    if len(recs) < MIN_RECS:
        message = f"the output has {len(recs)} usable distinct services, at least {MIN_RECS} are required"
        if recs:
            raise TooFewServices(message, summary, recs)
        raise OutputInvalid(message)
    return AdvisorResponse(summarization=summary, recommendations=recs[:MAX_RECS])


def parse_more(text: str, finish_reason: str, candidates: list[Service], partial: TooFewServices,
               allowed_numbers: set[int] | None = None) -> AdvisorResponse:
    """Merge a completion (more services) into a partial answer; the result must meet the contract."""
    data = _load(text, finish_reason)
    taken = {r.link for r in partial.recommendations}
    recs = partial.recommendations + _recommendations(data["recommendations"], candidates, taken, allowed_numbers)
    if len(recs) < MIN_RECS:
        raise OutputInvalid(f"the output has {len(recs)} usable distinct services, at least {MIN_RECS} are required")
    return AdvisorResponse(summarization=partial.summarization, recommendations=recs[:MAX_RECS])


# ------------------------------------------------------------------------------------ the explanation contract
def explain_schema(names: list[str]) -> dict[str, Any]:
    """The ranker has chosen the services: item i's ``service`` is the constant ``names[i]`` (a tuple via
    ``prefixItems``), so the model writes only the text. No ``items`` key: llama.cpp's converter would then
    ignore ``prefixItems``."""
    return {
        "x-guidance": {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "},
        "type": "object",
        "additionalProperties": False,
        "required": ["summarization", "recommendations"],
        "properties": {
            "summarization": {"type": "string"},
            "recommendations": {
                "type": "array",
                "minItems": len(names),
                "maxItems": len(names),
                "prefixItems": [{"type": "object", "additionalProperties": False,
                                 "required": ["service", "recommendation"],
                                 "properties": {"service": {"const": name}, "recommendation": {"type": "string"}}}
                                for name in names],
            },
        },
    }


def parse_explanation(text: str, finish_reason: str, names: list[str]) -> tuple[str | None, list[str | None],
                                                                               str | None]:
    """The model's summary and one reason per chosen service (None where unusable), and what was wrong with
    the output as a whole (None when it parsed). Never raises: the caller repairs with template sentences."""
    try:
        data = _load(text, finish_reason)
    except OutputInvalid as exc:
        return None, [None] * len(names), str(exc)

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
    return usable(data.get("summarization"), "summarization"), reasons, None
