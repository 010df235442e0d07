"""The unit every source yields: one question/answer pair plus where it came from.

Sources yield these lazily (generators) so a build streams: a 50k-item source never sits in memory as a list.
``meta`` always has the same keys with string-or-None values, because HF ``datasets`` infers one Arrow schema for
the whole JSONL file and rejects rows whose nested fields change shape.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

META_KEYS = ("source_type", "component", "category", "ref")

# Per-reason counts of things a source saw but could not turn into a pair (unknown component, missing key...).
Skips = Counter


@dataclass(slots=True)
class QAItem:
    question: str
    answer: str
    source: str  # the file path or URL the pair came from
    source_type: str = "unknown"
    component: str | None = None  # e.g. the Next.js "__component" or "faq"
    category: str | None = None
    ref: str | None = None  # where inside the source: "articles[3]", "line 12", "question 4"
    extra: dict[str, str] = field(default_factory=dict)

    def meta(self) -> dict[str, str | None]:
        return {
            "source_type": self.source_type,
            "component": self.component,
            "category": self.category,
            "ref": self.ref,
        }
