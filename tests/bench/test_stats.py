from __future__ import annotations

import math

import numpy as np
import pytest

from finadvisor.bench.stats import RequestResult, distribution, percentile, summarise


@pytest.mark.parametrize("q", [0, 10, 50, 90, 99, 100])
def test_percentile_matches_numpy_linear(q):
    values = [0.3, 0.1, 0.25, 2.0, 0.7, 0.05, 1.1]
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_of_nothing_is_nan_and_distribution_is_none():
    assert math.isnan(percentile([], 50))
    assert distribution([])["mean"] is None and distribution([])["n"] == 0


def test_tpot_needs_two_tokens():
    assert RequestResult(ok=True, e2e=1.0, ttft=0.2, output_tokens=5).tpot == pytest.approx(0.2)
    assert RequestResult(ok=True, e2e=1.0, ttft=0.2, output_tokens=1).tpot is None


def test_summarise_counts_errors_tokens_and_cache():
    results = [
        RequestResult(ok=True, e2e=1.0, ttft=0.1, itls=[0.2, 0.4], output_tokens=3, cache="hit"),
        RequestResult(ok=True, e2e=3.0, ttft=0.3, itls=[0.6], output_tokens=2, cache="miss"),
        RequestResult(ok=False, e2e=0.5, error="http_500", detail="boom"),
        RequestResult(ok=False, e2e=9.0, error="timeout", detail="slow"),
        RequestResult(ok=False, e2e=9.0, error="timeout", detail="slow"),
    ]
    lv = summarise(results, concurrency=4, duration_s=2.0)
    assert lv["completed"] == 2 and lv["failed"] == 3
    assert lv["errors"] == {"http_500": 1, "timeout": 2}
    assert lv["error_examples"] == {"http_500": ["boom"], "timeout": ["slow"]}
    assert lv["latency"]["mean"] == pytest.approx(2.0)  # failures excluded from latency
    assert lv["ttft"]["median"] == pytest.approx(0.2)
    assert lv["itl"]["mean"] == pytest.approx(0.4)
    assert lv["tpot"]["mean"] == pytest.approx(((1.0 - 0.1) / 2 + (3.0 - 0.3) / 1) / 2)
    assert lv["output_tokens"] == 5 and lv["output_token_throughput"] == pytest.approx(2.5)
    assert lv["request_throughput"] == pytest.approx(1.0)
    assert lv["cache_hit_rate"] == pytest.approx(0.5)
    assert lv["samples"]["e2e"] == [1.0, 3.0]
