"""The advisor's output contract, and the code that makes the LLM keep it.

    {"summarization": "...", "recommendations": [{"service": "...", "link": "...", "recommendation": "..."}]}

The LLM never writes a link and never chooses a service: the ranker chose them, and generation is constrained by
a JSON schema whose item i has the constant ``service`` of the ranker's pick i. The output is parsed here (never
trusted): free text loses anything a reader could open, and must be Vietnamese; links are copied from the
catalog. 2-3 distinct services. Whether the text is *true* is ``faithfulness.py``'s job.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, Field

MIN_RECS, MAX_RECS = 2, 3
# Letters that exist only in Vietnamese orthography (plus the tone-marked vowels): their presence is a cheap,
# reliable signal that a text is Vietnamese rather than English or Chinese.
_VI_CHARS = re.compile(r"[ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]", re.I)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
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
    """The LLM output broke the contract; the message says how (it is then repaired with template sentences)."""


def is_vietnamese(text: str) -> bool:
    return len(_VI_CHARS.findall(text)) >= 2 and not _CJK.search(text)


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
                "prefixItems": [{"type": "object", "additionalProperties": False,
                                 "required": ["service", "recommendation"],
                                 "properties": {"service": {"const": name}, "recommendation": {"type": "string"}}}
                                for name in names],
            },
        },
    }


_JSON_STRING = r'"((?:[^"\\]|\\.)*)"'
_SALVAGE_ITEM = re.compile(r'"service"\s*:\s*' + _JSON_STRING + r'\s*,\s*"recommendation"\s*:\s*' + _JSON_STRING)


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
