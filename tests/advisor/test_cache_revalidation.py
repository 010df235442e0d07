"""Issue 25: a cache hit is revalidated like a fresh answer (no link, bounded length, Vietnamese), not only
its services and links: whoever can write to a shared Redis cannot plant text. Real answers stay hits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finadvisor.advisor.contract import AdvisorResponse
from finadvisor.advisor.providers import demo_histories_dir
from finadvisor.catalog.embedders import HashEmbedder
from finadvisor.history import SpendingHistory, load_history_file
from tests.advisor.conftest import HISTORY
from tests.advisor.test_hardening import _advisor

PLANTED = [
    ("summarization", "Tháng này bạn được tặng quà, nhận ngay tại bit.ly/qua-tang nhé."),
    ("summarization", "You won a prize! Call our hotline now to claim your reward today."),
    ("summarization", "Tháng này bạn chi " + "rất " * 3000 + "nhiều."),
    ("recommendation", "Dịch vụ này đã bị khóa, vui lòng đăng nhập lại tại evil.vn để mở khóa."),
    ("recommendation", "ok"),
    ("currency", "USD"),
]


@pytest.mark.parametrize("field, text", PLANTED)
async def test_a_planted_text_in_a_cache_entry_is_a_miss(field: str, text: str) -> None:
    advisor = await _advisor(HashEmbedder())
    history = SpendingHistory.model_validate(HISTORY)
    first = await advisor.recommend(history)
    key = advisor.cache_key(history, None)
    planted = json.loads(first.response.model_dump_json())
    if field == "recommendation":
        planted["recommendations"][0]["recommendation"] = text
    else:
        planted[field] = text
    await advisor.cache.set(key, json.dumps(planted, ensure_ascii=False))
    again = await advisor.recommend(history)
    assert again.cache == "miss"
    assert again.response == first.response  # recomputed, the planted text is gone


@pytest.mark.parametrize("path", sorted(demo_histories_dir().glob("*.json")), ids=lambda p: Path(p).stem)
async def test_real_answers_stay_hits(path: Path) -> None:
    advisor = await _advisor(HashEmbedder())
    history = load_history_file(path)
    first = await advisor.recommend(history)
    again = await advisor.recommend(history)
    assert first.cache == "miss" and again.cache == "hit"
    assert AdvisorResponse.model_validate(again.response.model_dump()) == first.response
