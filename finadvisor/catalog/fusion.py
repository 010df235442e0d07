"""Scoring: how per-query candidates become one ranked list of hits.

A spending history is searched as several weighted queries, one per category (``query.py``). Each query's
candidates get an optional BM25 bonus (``lexical_bonus``), then ``fuse`` spreads each query's weight over its
candidates with a softmax and sums per service. The softmax temperature is relative to that query's own score
spread, so a category with one clear match gives it most of its weight, a vague one spreads thin, and the merge
does not depend on the embedding model's cosine scale. Figures behind the constants: docs/CATALOG.md and
benchmarks/catalog_eval.py.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from finadvisor.catalog.lexical import BM25, tokenize
from finadvisor.catalog.model import Service
from finadvisor.catalog.query import WeightedQuery

FUSION_TEMPERATURE = 0.5  # per-query softmax temperature, in units of that query's candidate-score spread
# Hybrid BM25 bonus for per-category (history) queries: +0.012 recall@5 on the eval set. Free-text queries stay
# dense-only: syllable bigrams cross word boundaries ("nạp tiền | điện thoại" contains "tiền điện", electricity
# money), and that sent "tiền điện tháng này" to phone top-up (benchmarks/catalog_eval.py, docs/CATALOG.md).
LEXICAL_WEIGHT = 0.1
QUERY_LEXICAL_WEIGHT = 0.0


@dataclass
class Hit:
    service: Service
    score: float


@functools.lru_cache(maxsize=20_000)
def doc_tokens(text: str) -> tuple[str, ...]:
    """Service tokens, cached for hot services instead of stored for all (100k token lists cost ~250 MB)."""
    return tuple(tokenize(text))


def lexical_bonus(
    hits: list[tuple[int, float]], query: str, text_of: Callable[[int], str], bm25: BM25, weight: float
) -> list[tuple[int, float]]:
    """Add ``weight`` x BM25 / (best BM25 among the candidates) to each dense score, and re-sort."""
    if not weight or not hits:
        return hits
    qtok = tokenize(query)
    lex = [bm25.score(qtok, doc_tokens(text_of(f))) for f, _ in hits]
    top = max(lex) or 1.0
    boosted = [(f, s + weight * lx / top) for (f, s), lx in zip(hits, lex, strict=True)]
    boosted.sort(key=lambda r: -r[1])
    return boosted


def fuse(
    queries: list[WeightedQuery],
    rows: list[list[tuple[Service, float]]],
    temperature: float = FUSION_TEMPERATURE,
) -> list[Hit]:
    """Merge per-query candidates into hits, best first (ties by service name)."""
    merged: dict[str, list[Any]] = {}
    for query, hits in zip(queries, rows, strict=True):
        if not hits:
            continue
        scores = np.array([s for _, s in hits], dtype=np.float64)
        spread = float(scores.std()) or 1e-3
        probs = np.exp((scores - scores.max()) / (temperature * spread))
        probs /= probs.sum()
        for (svc, _), p in zip(hits, probs, strict=True):
            slot = merged.setdefault(svc.id, [svc, 0.0])
            slot[1] += query.weight * float(p)
    ranked = sorted(merged.values(), key=lambda r: (-r[1], r[0].service))
    return [Hit(svc, round(score, 6)) for svc, score in ranked]
