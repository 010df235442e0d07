"""Advisor hardening (issue 14): retrieval off the event loop, cache hits re-checked, no bare domains in text."""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np

from finadvisor.advisor.cache import MemoryCache
from finadvisor.advisor.contract import AdvisorResponse
from finadvisor.advisor.service import Advisor
from finadvisor.catalog import CatalogIndex, HashEmbedder, demo_catalog_path, load_catalog
from finadvisor.engines.fake import FakeEngine
from finadvisor.engines.service import LLMService
from finadvisor.history import SpendingHistory
from finadvisor.metrics import Metrics
from tests.advisor.conftest import HISTORY, good_script

API = "/api/recommendations"


class SlowEmbedder(HashEmbedder):
    """Every query embedding takes ``delay_s`` of blocking time, like a remote embedder or a held lock."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self.delay_s = delay_s
        self.slow = False
        self.sleeping = False  # True while a query embedding blocks its thread
        self.sleeps = 0

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        if self.slow:
            self.sleeps += 1
            self.sleeping = True
            time.sleep(self.delay_s)
            self.sleeping = False
        return super().embed_queries(texts)


async def _advisor(embedder: HashEmbedder, script=good_script) -> Advisor:  # type: ignore[no-untyped-def]
    metrics = Metrics()
    engine = FakeEngine(script=script)
    await engine.start()
    llm = LLMService(engine, metrics, model_name="fake")
    index = CatalogIndex.build(load_catalog(demo_catalog_path()), embedder)
    return Advisor(llm, index, MemoryCache(), metrics=metrics)


async def test_retrieval_does_not_block_the_event_loop() -> None:
    embedder = SlowEmbedder(0.4)
    advisor = await _advisor(embedder)
    embedder.slow = True  # only the request's never-seen names pay the delay, not the index build
    history = SpendingHistory.model_validate(
        {"spending": [{"name": "Thức ăn cho chó mèo", "amount": 500000, "count": 3}, *HISTORY["spending"]]}
    )
    ticks_while_embedding = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks_while_embedding
        while not done:
            await asyncio.sleep(0.01)
            ticks_while_embedding += embedder.sleeping

    async def recommend() -> None:
        nonlocal done
        try:
            await advisor.recommend(history)
        finally:
            done = True

    await asyncio.gather(recommend(), ticker())
    # An ordering, not a time threshold: the loop kept running *while* the embedder blocked its thread. Ranking
    # on the loop would block the ticker for the whole embedding, so no tick could see ``sleeping`` set.
    assert embedder.sleeps >= 1  # the topic no map row covers really went to the (slow) embedder
    assert ticks_while_embedding >= 2, ticks_while_embedding


async def test_poisoned_cache_entry_is_a_miss() -> None:
    advisor = await _advisor(HashEmbedder())
    history = SpendingHistory.model_validate(HISTORY)
    first = await advisor.recommend(history)
    key = advisor.cache_key(history, None)
    good = first.response.model_dump()
    poisoned = json.loads(json.dumps(good))
    poisoned["recommendations"][0]["link"] = "https://evil.example/phish"
    await advisor.cache.set(key, json.dumps(poisoned))
    again = await advisor.recommend(history)
    assert again.cache == "miss"
    assert all("evil" not in r.link for r in again.response.recommendations)
    # a renamed service (right link, wrong name) is poisoned too
    renamed = json.loads(json.dumps(good))
    renamed["recommendations"][0]["service"] = "Vay nóng 0%"
    await advisor.cache.set(key, json.dumps(renamed))
    assert (await advisor.recommend(history)).cache == "miss"
    # an untouched entry is still a hit
    await advisor.cache.set(key, AdvisorResponse.model_validate(good).model_dump_json())
    assert (await advisor.recommend(history)).cache == "hit"


def _domain_script(request) -> str:  # type: ignore[no-untyped-def]
    data = json.loads(good_script(request))
    data["summarization"] = "Tháng này bạn chi nhiều cho ăn uống, xem bit.ly/abc để nhận ưu đãi."
    for rec in data["recommendations"]:
        rec["recommendation"] = "Bạn chi nhiều cho ăn uống, vào example.com/x hoặc evil.vn để nhận quà tặng."
    return json.dumps(data, ensure_ascii=False)


async def test_bare_domains_are_stripped_from_free_text(make_client) -> None:
    async for c in make_client(_domain_script):
        r = await c.post(API, json={"history": HISTORY})
        assert r.status_code == 200, r.text
        body = r.json()
        texts = [body["summarization"], *(rec["recommendation"] for rec in body["recommendations"])]
        for text in texts:
            for bad in ("bit.ly", "example.com", "evil.vn", "/abc", "/x"):
                assert bad not in text, text
