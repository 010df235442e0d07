"""Per-request measurements and the statistics a sweep level reports.

Kept free of I/O so the numbers can be tested against scripted timings. Definitions (also in docs/BENCHMARKS.md):

* TTFT: request sent -> first non-empty content delta received.
* ITL: gap between two consecutive content deltas (one sample per gap, over all requests).
* TPOT: ``(e2e - ttft) / (output_tokens - 1)`` per request with at least two tokens.
* e2e latency: request sent -> response fully read.
* throughput: successful requests (and their output tokens) divided by the level's wall time.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

PERCENTILES = (50, 90, 99)


@dataclass
class RequestResult:
    """What one request did. Times are seconds; ``start`` is relative to the level's start."""

    ok: bool
    start: float = 0.0
    e2e: float = 0.0
    ttft: float | None = None
    itls: list[float] = field(default_factory=list)
    output_tokens: int = 0
    tokens_from_usage: bool = False
    error: str | None = None  # kind: http_<status>, timeout, connection, mid_stream_close, invalid_response
    detail: str = ""
    cache: str | None = None  # "hit" / "miss" from the X-Cache header (advisor target)

    @property
    def tpot(self) -> float | None:
        if self.ttft is None or self.output_tokens < 2:
            return None
        return (self.e2e - self.ttft) / (self.output_tokens - 1)


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method), without importing numpy."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def distribution(values: list[float]) -> dict[str, float | int | None]:
    """mean / median / p90 / p99 / min / max / n; ``None`` where there are no samples (JSON has no NaN)."""
    if not values:
        return {"n": 0, "mean": None, "median": None, "p90": None, "p99": None, "min": None, "max": None}
    return {
        "n": len(values),
        "mean": sum(values) / len(values),
        "median": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "min": min(values),
        "max": max(values),
    }


def summarise(
    results: list[RequestResult],
    *,
    concurrency: int,
    duration_s: float,
    request_rate: float | None = None,
    keep_samples: bool = True,
) -> dict[str, Any]:
    """The JSON record of one sweep level."""
    good = [r for r in results if r.ok]
    errors = Counter(r.error or "unknown" for r in results if not r.ok)
    tokens = sum(r.output_tokens for r in good)
    ttfts = [r.ttft for r in good if r.ttft is not None]
    itls = [gap for r in good for gap in r.itls]
    tpots = [t for r in good if (t := r.tpot) is not None]
    e2es = [r.e2e for r in good]
    cache_known = [r.cache for r in good if r.cache in ("hit", "miss")]
    wall = max(duration_s, 1e-9)
    level: dict[str, Any] = {
        "concurrency": concurrency,
        "request_rate": request_rate,
        "requests": len(results),
        "completed": len(good),
        "failed": len(results) - len(good),
        "errors": dict(sorted(errors.items())),
        "duration_s": duration_s,
        "request_throughput": len(good) / wall,
        "output_tokens": tokens,
        "output_token_throughput": tokens / wall,
        "tokens_from_usage": bool(good) and all(r.tokens_from_usage for r in good),
        "latency": distribution(e2es),
        "ttft": distribution(ttfts),
        "itl": distribution(itls),
        "tpot": distribution(tpots),
        "cache_hit_rate": (cache_known.count("hit") / len(cache_known)) if cache_known else None,
        "error_examples": _examples(results),
    }
    if keep_samples:
        level["samples"] = {"e2e": e2es, "ttft": ttfts}
    return level


def _examples(results: list[RequestResult], per_kind: int = 2) -> dict[str, list[str]]:
    """A couple of error details per kind, so a failing run says why without a debugger."""
    out: dict[str, list[str]] = {}
    for r in results:
        if not r.ok:
            bucket = out.setdefault(r.error or "unknown", [])
            if len(bucket) < per_kind and r.detail and r.detail not in bucket:
                bucket.append(r.detail[:200])
    return out
