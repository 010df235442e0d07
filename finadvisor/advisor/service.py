"""The advisor service: history -> retrieval -> constrained generation -> validation, cached with single-flight.

    advisor = Advisor(llm, index, cache, metrics=metrics)
    result = await advisor.recommend(history, now=datetime.now())

A truncated or invalid output is retried once (with the reason in the prompt); only then does the request fail
with a clear 502. Stage timings go to one structured log line (no token, no raw history) and to Prometheus.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from finadvisor.advisor.cache import RecommendationCache, SingleFlight
from finadvisor.advisor.contract import (
    MAX_RECS,
    MIN_RECS,
    AdvisorResponse,
    OutputInvalid,
    TooFewServices,
    more_schema,
    parse_more,
    parse_output,
    response_schema,
)
from finadvisor.advisor.prompt import (
    PROMPT_VERSION,
    build_messages,
    factual_summary,
    history_numbers,
    time_context,
)
from finadvisor.catalog import CatalogIndex, Service
from finadvisor.engines.base import GenerationRequest
from finadvisor.engines.service import LLMService
from finadvisor.errors import ConfigError, FinadvisorError, ModelOutputError, ValidationFailed
from finadvisor.history import SpendingHistory
from finadvisor.metrics import Metrics

log = logging.getLogger("finadvisor.advisor")
FALLBACK_QUERY = "tiết kiệm sinh lời quản lý chi tiêu"


@dataclass
class AdviceResult:
    response: AdvisorResponse
    cache: str  # "hit", "miss" or "bypass"
    timings: dict[str, float] = field(default_factory=dict)


class Advisor:
    def __init__(self, llm: LLMService, index: CatalogIndex, cache: RecommendationCache, *, metrics: Metrics,
                 top_k: int = 4, min_share: float = 0.15, max_tokens: int = 512, temperature: float = 0.2) -> None:
        self.llm = llm
        self.index = index
        self.cache = cache
        self.metrics = metrics
        self.top_k = top_k
        self.min_share = min_share
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._flight = SingleFlight()

    # --------------------------------------------------------------------------------------------- keys
    def cache_key(self, history: SpendingHistory, now: datetime | None) -> str:
        """Content-derived: same history + catalog + model + prompt + time bucket => same advice."""
        material = json.dumps([history.canonical(), self.index.version, self.llm.model_name, PROMPT_VERSION,
                               time_context(now)], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(material.encode()).hexdigest()

    # --------------------------------------------------------------------------------------------- main
    async def recommend(self, history: SpendingHistory, now: datetime | None = None, *,
                        bypass_cache: bool = False) -> AdviceResult:
        if history.is_empty():
            raise ValidationFailed("the spending history has no categories; nothing to advise on",
                                   param="history")
        t0 = time.perf_counter()
        key = self.cache_key(history, now)
        if not bypass_cache and (hit := await self._cached(key, t0)) is not None:
            return hit
        async with self._flight(key):  # identical concurrent misses in this process wait for one computation
            if not bypass_cache and (hit := await self._cached(key, t0)) is not None:
                return hit
            async with self.cache.distributed_lock(key):  # ... and across replicas (Redis)
                if not bypass_cache and (hit := await self._cached(key, t0)) is not None:
                    return hit
                try:
                    result = await self._compute(history, now)
                except FinadvisorError as exc:
                    self.metrics.advisor_errors.labels(exc.error_type).inc()
                    raise
                await self.cache.set(key, result.response.model_dump_json())
        result.cache = "bypass" if bypass_cache else "miss"
        result.timings["total"] = time.perf_counter() - t0
        self._record(result)
        return result

    async def _cached(self, key: str, t0: float) -> AdviceResult | None:
        raw = await self.cache.get(key)
        if raw is None:
            return None
        try:
            response = AdvisorResponse.model_validate_json(raw)
        except ValueError:
            return None  # a damaged entry is a miss, never an error
        if not self._matches_catalog(response):
            log.warning("cache entry %s… does not match the current catalog; treated as a miss", key[:12])
            return None
        result = AdviceResult(response, "hit", {"total": time.perf_counter() - t0})
        self._record(result)
        return result

    def _matches_catalog(self, response: AdvisorResponse) -> bool:
        """Anything that can write to the cache (a shared Redis) could inject links: every hit's services must
        exist in the current catalog, under their catalog name and with the catalog's link."""
        for rec in response.recommendations:
            service = self.index.get(rec.link)
            if service is None or service.link != rec.link or service.service != rec.service:
                return False
        return len({r.link for r in response.recommendations}) == len(response.recommendations)

    def retrieve(self, history: SpendingHistory) -> list[Service]:
        """Top candidates for the prompt. A history hit's score is its share of the history's weight; a
        candidate below ``min_share`` is not where this user's money goes, so it is dropped (keeping at least 2):
        the model can only pick among what is offered."""
        hits = self.index.search_history(history, k=self.top_k)
        hits = [h for i, h in enumerate(hits) if i < 2 or h.score >= self.min_share]
        hits = hits or self.index.search(FALLBACK_QUERY, k=self.top_k)
        candidates: list[Service] = []
        names: set[str] = set()
        for hit in hits:
            if hit.service.service not in names:  # the schema enum needs unique names
                names.add(hit.service.service)
                candidates.append(hit.service)
        if len(candidates) < 2:
            raise ConfigError("the service catalog has fewer than 2 services to choose from; add services "
                              "with 'finadvisor catalog add'")
        return candidates

    async def _compute(self, history: SpendingHistory, now: datetime | None) -> AdviceResult:
        timings: dict[str, float] = {}
        t = time.perf_counter()
        # Off the event loop: a never-seen category name is embedded (about 15 ms each, a synchronous HTTP call
        # with embedder=openai) and the embedder's lock may be held by /v1/embeddings.
        candidates = await asyncio.to_thread(self.retrieve, history)
        timings["retrieval"] = time.perf_counter() - t
        schema = response_schema(candidates)
        problem: str | None = None
        for attempt in range(2):
            t = time.perf_counter()
            messages = build_messages(history, candidates, now, retry_reason=problem)
            timings["prompt"] = timings.get("prompt", 0.0) + time.perf_counter() - t
            request = GenerationRequest(messages=messages, max_tokens=self.max_tokens, json_schema=schema,
                                        temperature=self.temperature if attempt == 0 else 0.7,
                                        seed=None if attempt == 0 else 7 + attempt)
            text, finish, ttft, total = await self._generate(request)
            timings.setdefault("llm_ttft", ttft)
            timings["llm_total"] = timings.get("llm_total", 0.0) + total
            t = time.perf_counter()
            try:
                try:
                    response = parse_output(text, finish, candidates, factual_summary(history),
                                            history_numbers(history))
                except TooFewServices as partial:
                    # Small models repeat a service; ask only for the missing ones, among the others.
                    timings["validation"] = timings.get("validation", 0.0) + time.perf_counter() - t
                    response = await self._complete(history, candidates, now, partial, timings)
            except OutputInvalid as exc:
                problem = str(exc)
                timings["validation"] = timings.get("validation", 0.0) + time.perf_counter() - t
                log.warning("advisor output rejected (attempt %d): %s", attempt + 1, problem)
                continue
            timings["validation"] = timings.get("validation", 0.0) + time.perf_counter() - t
            timings["attempts"] = attempt + 1
            return AdviceResult(response, "miss", timings)
        raise ModelOutputError(f"the model could not produce a valid recommendation ({problem}); "
                               "please try again")

    async def _complete(self, history: SpendingHistory, candidates: list[Service], now: datetime | None,
                        partial: TooFewServices, timings: dict[str, float]) -> AdvisorResponse:
        chosen = {r.link for r in partial.recommendations}
        rest = [c for c in candidates if c.link not in chosen]
        need = MIN_RECS - len(partial.recommendations)
        messages = build_messages(history, rest, now)
        names = ", ".join(r.service for r in partial.recommendations)
        messages[-1]["content"] += (f"\n\nĐã chọn: {names}. Hãy gợi ý thêm {need}-{MAX_RECS - len(chosen)} dịch vụ "
                                    "KHÁC trong danh sách trên, mỗi dịch vụ kèm lý do ngắn.")
        request = GenerationRequest(messages=messages, max_tokens=self.max_tokens, temperature=self.temperature,
                                    json_schema=more_schema(rest, need, MAX_RECS - len(chosen)))
        text, finish, _, total = await self._generate(request)
        timings["llm_total"] = timings.get("llm_total", 0.0) + total
        timings["completions"] = timings.get("completions", 0) + 1
        t = time.perf_counter()
        try:
            return parse_more(text, finish, rest, partial, history_numbers(history))
        finally:
            timings["validation"] = timings.get("validation", 0.0) + time.perf_counter() - t

    async def _generate(self, request: GenerationRequest) -> tuple[str, str, float, float]:
        start = time.perf_counter()
        ttft = 0.0
        parts: list[str] = []
        finish = "stop"
        async for delta in self.llm.stream(request):
            if delta.text and not parts:
                ttft = time.perf_counter() - start
            parts.append(delta.text)
            if delta.finish_reason is not None:
                finish = delta.finish_reason
        return "".join(parts), finish, ttft, time.perf_counter() - start

    def _record(self, result: AdviceResult) -> None:
        self.metrics.advisor_requests.labels(result.cache).inc()
        for stage, seconds in result.timings.items():
            if stage not in ("attempts", "completions"):
                self.metrics.advisor_stage.labels(stage).observe(seconds)
        log.info(json.dumps({"event": "recommendation", "cache": result.cache,
                             "timings_ms": {k: round(v * 1000, 2) if k not in ("attempts", "completions") else v
                                            for k, v in result.timings.items()},
                             "services": [r.link for r in result.response.recommendations]},
                            ensure_ascii=False))

    async def close(self) -> None:
        await self.cache.close()
