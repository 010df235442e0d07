"""``dataset stats``: what is inside a ChatML (or instruction/answer) JSONL file, read in one streaming pass.

Counts, question/answer length distribution (characters), pairs per source and component, exact duplicates and
repeated questions, and lines that could not be read.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from finadvisor.dataset.jsonl_source import _pair
from finadvisor.dataset.text import loose_key
from finadvisor.errors import ConfigError


def _distribution(values: list[int]) -> dict[str, float]:
    if not values:
        return {"min": 0, "p50": 0, "p90": 0, "max": 0, "mean": 0.0}
    arr = np.asarray(values)
    return {
        "min": int(arr.min()),
        "p50": float(np.percentile(arr, 50)),
        "p90": float(np.percentile(arr, 90)),
        "max": int(arr.max()),
        "mean": round(float(arr.mean()), 1),
    }


def dataset_stats(path: Path, top: int = 10) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"cannot read {path}: no such file", param="FILE")
    q_lens: list[int] = []
    a_lens: list[int] = []
    sources: Counter[str] = Counter()
    components: Counter[str] = Counter()
    pairs: set[bytes] = set()
    questions: set[bytes] = set()
    duplicates = repeated_questions = invalid = not_pairs = lines = 0
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip():
                continue
            lines += 1
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                if invalid == 0:
                    first_invalid = f"line {lineno}: {exc.msg}"
                invalid += 1
                continue
            pair = _pair(record) if isinstance(record, dict) else None
            if pair is None:
                not_pairs += 1
                continue
            question, answer = pair
            q_lens.append(len(question))
            a_lens.append(len(answer))
            sources[str(record.get("source", "unknown"))] += 1
            meta = record.get("meta")
            components[str(meta.get("component")) if isinstance(meta, dict) else "none"] += 1
            q_key = loose_key(question)
            p_digest = hashlib.blake2b((q_key + "\x1f" + loose_key(answer)).encode(), digest_size=12).digest()
            q_digest = hashlib.blake2b(q_key.encode(), digest_size=12).digest()
            if p_digest in pairs:
                duplicates += 1
            elif q_digest in questions:
                repeated_questions += 1
            pairs.add(p_digest)
            questions.add(q_digest)
    result: dict[str, Any] = {
        "file": str(path),
        "lines": lines,
        "pairs": len(q_lens),
        "invalid_json_lines": invalid,
        "lines_without_pair": not_pairs,
        "exact_duplicates": duplicates,
        "repeated_questions": repeated_questions,
        "question_chars": _distribution(q_lens),
        "answer_chars": _distribution(a_lens),
        "sources": dict(sources.most_common(top)),
        "distinct_sources": len(sources),
        "components": dict(components.most_common(top)),
    }
    if invalid:
        result["first_invalid"] = first_invalid
    return result


def print_stats(stats: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"dataset stats: {stats['file']}")
    table.add_column("what")
    table.add_column("value", justify="right")
    for key in (
        "pairs",
        "lines",
        "invalid_json_lines",
        "lines_without_pair",
        "exact_duplicates",
        "repeated_questions",
        "distinct_sources",
    ):
        table.add_row(key.replace("_", " "), str(stats[key]))
    for field in ("question_chars", "answer_chars"):
        d = stats[field]
        table.add_row(
            field.replace("_", " "),
            f"min {d['min']} · p50 {d['p50']:.0f} · p90 {d['p90']:.0f} · max {d['max']} · mean {d['mean']}",
        )
    console.print(table)
    sources = Table(title="top sources")
    sources.add_column("source")
    sources.add_column("pairs", justify="right")
    for name, n in stats["sources"].items():
        sources.add_row(name, str(n))
    console.print(sources)
