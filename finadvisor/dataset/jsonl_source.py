"""JSON Lines of pairs, streamed line by line: the seed's ``{"instruction","answer"}`` intermediate format.

Also accepted, so outputs can be merged and re-cleaned: ``{"question","answer"}`` and ChatML records
(``{"messages": [...]}``, as written by ``dataset build`` and ``dataset generate``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from finadvisor.dataset.document import Document
from finadvisor.dataset.items import QAItem, Skips
from finadvisor.errors import ConfigError


class JsonlSource:
    name = "jsonl"

    def parse(self, doc: Document, skips: Skips) -> Iterator[QAItem]:
        for lineno, line in enumerate(doc.lines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"{doc.origin}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno}); "
                    "fix or delete that line"
                ) from exc
            except (
                ValueError,
                RecursionError,
            ):  # valid JSON past the parser's limits: huge integers, deep nesting
                skips["jsonl:too_deep_or_too_large"] += 1
                continue
            if not isinstance(record, dict):
                skips["jsonl:not_an_object"] += 1
                continue
            pair = _pair(record)
            if pair is None:
                skips["jsonl:no_question_answer"] += 1
                continue
            source = record.get("source")
            raw_meta = record.get("meta")
            meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
            yield QAItem(
                pair[0],
                pair[1],
                source if isinstance(source, str) and source not in ("", "unknown") else doc.origin,
                str(meta.get("source_type") or "jsonl"),
                _str(meta.get("component")),
                _str(meta.get("category")),
                f"line {lineno}",
            )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _pair(record: dict[str, Any]) -> tuple[str, str] | None:
    question = record.get("instruction", record.get("question"))
    answer = record.get("answer", record.get("output"))
    if isinstance(question, str) and isinstance(answer, str):
        return question, answer
    messages = record.get("messages")
    if isinstance(messages, list):
        user = next(
            (m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"), None
        )
        reply = next(
            (m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "assistant"), None
        )
        if isinstance(user, str) and isinstance(reply, str):
            return user, reply
    return None
