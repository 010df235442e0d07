"""schema.org ``FAQPage`` in an HTML page: JSON-LD ``<script>`` blocks first, then microdata attributes.

Many real help centres render their FAQ with JavaScript (accordions filled from an API) and publish the questions
for search engines as structured data, so the HTML source holds them only there::

    <script type="application/ld+json">{"@context": "https://schema.org", "@type": "FAQPage",
      "mainEntity": [{"@type": "Question", "name": "…?", "acceptedAnswer": {"@type": "Answer", "text": "…"}}]}
    </script>
    <div itemscope itemtype="https://schema.org/FAQPage"> <div itemprop="mainEntity" itemscope
      itemtype="https://schema.org/Question"> <h3 itemprop="name">…?</h3> <div itemprop="acceptedAnswer" itemscope
      itemtype="https://schema.org/Answer"> <div itemprop="text">…</div> …

Both are read here, before :mod:`html_faq` drops every ``<script>``. JSON-LD may be one object, a list, or an
``@graph``; ``@type`` may be a list; ``mainEntity`` one Question or a list; ``acceptedAnswer`` one Answer or a list
(the first with text is used; ``suggestedAnswer`` when there is no accepted one). Answer text may carry HTML.
A block that is not valid JSON is skipped and counted (``html:jsonld_invalid``), never fatal: pages ship broken
JSON-LD more often than broken HTML. How the result is merged with the visible text is :mod:`html_faq`'s job.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from finadvisor.dataset.items import Skips
from finadvisor.dataset.text import clean_field, node_text, normalize


@dataclass(frozen=True)
class StructuredPair:
    question: str
    answer: str
    kind: str  # "jsonld" or "microdata"
    index: int  # 1-based position in its structure


def _types(node: dict[str, Any]) -> set[str]:
    raw = node.get("@type")
    values = raw if isinstance(raw, list) else [raw]
    return {v.rsplit("/", 1)[-1] for v in values if isinstance(v, str)}


def _walk_jsonld(data: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in a JSON-LD document (lists and ``@graph`` included), outermost first; an explicit
    stack, so no nesting depth raises RecursionError."""
    stack: list[Any] = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            yield item
            if _types(item) != {"Question"}:
                stack.extend(
                    reversed([item[key] for key in ("@graph", "mainEntity", "hasPart") if key in item])
                )


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value is not None else []


def _answer_text(question: dict[str, Any]) -> str | None:
    for key in ("acceptedAnswer", "suggestedAnswer"):
        for answer in _as_list(question.get(key)):
            text = answer.get("text") if isinstance(answer, dict) else answer
            if isinstance(text, str) and text.strip():
                return text
    return None


def jsonld_pairs(tree: LexborHTMLParser, skips: Skips) -> list[StructuredPair]:
    pairs: list[StructuredPair] = []
    seen: set[int] = set()
    for script in tree.css("script"):
        kind = (script.attributes.get("type") or "").split(";")[0].strip().lower()
        if kind != "application/ld+json":
            continue
        try:
            data = json.loads(script.text(deep=True) or "")
        except (ValueError, RecursionError):  # bad JSON, a >4,300-digit integer, nesting past the parser
            skips["html:jsonld_invalid"] += 1
            continue
        for node in _walk_jsonld(data):
            if "FAQPage" not in _types(node):
                continue
            for question in _as_list(node.get("mainEntity")):
                if not isinstance(question, dict) or id(question) in seen:
                    continue
                seen.add(id(question))
                name = question.get("name") or question.get("text")
                answer = _answer_text(question)
                if not isinstance(name, str) or not name.strip() or answer is None:
                    skips["html:jsonld_question_without_answer"] += 1
                    continue
                pairs.append(
                    StructuredPair(
                        clean_field(name, single_line=True), clean_field(answer), "jsonld", len(pairs) + 1
                    )
                )
    return pairs


def _itemtype(node: LexborNode) -> str:
    return (node.attributes.get("itemtype") or "").rstrip("/").rsplit("/", 1)[-1]


def _prop(node: LexborNode, name: str) -> LexborNode | None:
    """The first descendant with ``itemprop=name`` that belongs to ``node``'s own item (not a nested item's)."""
    for candidate in node.css(f'[itemprop~="{name}"]'):
        owner = candidate.parent
        while owner is not None and owner.mem_id != node.mem_id and "itemscope" not in owner.attributes:
            owner = owner.parent
        if owner is not None and owner.mem_id == node.mem_id:
            return candidate
    return None


def _prop_text(node: LexborNode) -> str:
    content = node.attributes.get("content")
    return content if content else node_text(node)


def microdata_pairs(tree: LexborHTMLParser, skips: Skips) -> list[StructuredPair]:
    pairs: list[StructuredPair] = []
    for page in tree.css("[itemscope][itemtype]"):
        if _itemtype(page) != "FAQPage":
            continue
        for question in page.css('[itemprop~="mainEntity"][itemscope]'):
            if _itemtype(question) != "Question":
                continue
            name = _prop(question, "name")
            answer_item = _prop(question, "acceptedAnswer") or _prop(question, "suggestedAnswer")
            text = _prop(answer_item, "text") if answer_item is not None else None
            q = normalize(_prop_text(name), single_line=True) if name is not None else ""
            a = normalize(_prop_text(text)) if text is not None else ""
            if not q or not a:
                skips["html:microdata_question_without_answer"] += 1
                continue
            pairs.append(StructuredPair(q, a, "microdata", len(pairs) + 1))
    return pairs
