"""The advisor service: history -> ranker (decides) -> LLM (explains) -> faithfulness check, cached with
single-flight.

    advisor = Advisor(llm, index, cache, metrics=metrics)
    result = await advisor.recommend(history, now=datetime.now())

The ranker (``ranker.py``) picks 2-3 services with their evidence; the model writes one sentence per service on
what it does for that spending, under a schema that fixes each item's service; every sentence is checked against
the history (``faithfulness.py``) and follows the advisor's own fact clause; a failing one is replaced by the
service's catalog description. The summary is computed (``summary.py``). An output that
is not even JSON is generated once more, then the request fails (502); anything parsable is answered, false
sentences repaired. Fallbacks are counted in Prometheus (``finadvisor:advisor_fallbacks``). Stage timings
go to one structured log line (no token, no raw history) and to Prometheus.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from finadvisor.advisor import slot_writer
from finadvisor.advisor.cache import RecommendationCache, SingleFlight
from finadvisor.advisor.catalog_facts import CatalogFacts
from finadvisor.advisor.category_map import CategoryMap, load_category_map
from finadvisor.advisor.contract import (
    AdvisorResponse,
    Recommendation,
    cached_problem,
    evidence_items,
    explain_schema,
    parse_explanation,
    strip_links,
)
from finadvisor.advisor.evidence import Facts, Pick
from finadvisor.advisor.faithfulness import Checker
from finadvisor.advisor.prompt import PROMPT_VERSION, build_messages, data_block, instructions, time_context
from finadvisor.advisor.ranker import Ranker
from finadvisor.advisor.slot_writer import WRITER_VERSION
from finadvisor.advisor.wording import compose_summary, template_reason
from finadvisor.catalog import CatalogIndex
from finadvisor.engines.base import GenerationRequest
from finadvisor.engines.service import LLMService
from finadvisor.errors import FinadvisorError, ModelOutputError, ValidationFailed
from finadvisor.history import SpendingHistory
from finadvisor.logs import log_event
from finadvisor.metrics import Metrics

log = logging.getLogger("finadvisor.advisor")
# one sentence of under 25 words is about 35-45 tokens, plus about 15 of JSON keys and the service's name
TOKENS_BASE, TOKENS_PER_REASON = 16, 64


@dataclass
class _Draft:
    """One reason's candidates from the model writer: the raw texts drawn, why each failed, the one shown."""

    raw: list[str] = field(default_factory=list)
    problems: list[list[str]] = field(default_factory=list)
    text: str | None = None
    ttft: float = 0.0
    tokens: int = 0


@dataclass
class AdviceResult:
    response: AdvisorResponse
    cache: str  # "hit", "miss" or "bypass"
    timings: dict[str, float] = field(default_factory=dict)
    # on a miss: what the faithfulness check found in the model's raw text, and what was repaired
    quality: dict[str, object] = field(default_factory=dict)


class Advisor:
    def __init__(
        self,
        llm: LLMService,
        index: CatalogIndex,
        cache: RecommendationCache,
        *,
        metrics: Metrics,
        top_k: int = 4,
        min_share: float = 0.15,
        max_tokens: int = 512,
        temperature: float = 0.2,
        category_map: CategoryMap | None = None,
        writer: str = "free",
        writer_adapter: str | None = None,
        candidates: int = 3,
    ) -> None:
        # top_k and min_share belonged to the old candidates-for-the-model flow; kept so builders still work
        self.llm = llm
        self.index = index
        self.cache = cache
        self.metrics = metrics
        self.top_k = top_k
        self.min_share = min_share
        self.max_tokens = max_tokens
        self.temperature = temperature
        # "model": the LLM writes each reason with placeholders code fills (``slot_writer.py``); "free": the LLM
        # writes each reason's service sentence in JSON, numbers left out; "template" (alias "catalog"): no LLM
        self.writer = "template" if writer in ("template", "catalog") else writer
        self.writer_adapter = writer_adapter  # the LoRA adapter the model writer asks for (None: the base)
        self.candidates = max(1, candidates)
        self.category_map = category_map if category_map is not None else load_category_map()
        self.ranker = Ranker(index, self.category_map)
        self._flight = SingleFlight()
        self._catalog_facts: tuple[str, CatalogFacts] | None = None
        _ = (
            self.catalog_facts
        )  # read (or extract and write) <index_dir>/service_facts.csv now, not on a request

    @property
    def catalog_facts(self) -> CatalogFacts:
        """The figures the catalog's services state (``catalog_facts.py``), read again when the index changes."""
        version = self.index.version
        if self._catalog_facts is None or self._catalog_facts[0] != version:
            self._catalog_facts = (version, CatalogFacts.for_index(self.index))
        return self._catalog_facts[1]

    # --------------------------------------------------------------------------------------------- keys
    def cache_key(self, history: SpendingHistory, now: datetime | None) -> str:
        """Content-derived: same history + catalog + model + prompt + time bucket => same advice."""
        material = json.dumps(
            [
                history.canonical(),
                self.index.version,
                self.category_map.version,
                self.ranker.topics.version,
                self.ranker.topic_file_version,
                self.writer,
                self.writer_adapter if self.writer == "model" else None,
                [WRITER_VERSION, self.candidates] if self.writer == "model" else None,
                self.catalog_facts.version,
                self.llm.model_name,
                PROMPT_VERSION,
                time_context(now),
            ],
            ensure_ascii=False,
            sort_keys=True,
        )
        return hashlib.sha256(material.encode()).hexdigest()

    # --------------------------------------------------------------------------------------------- main
    async def recommend(
        self, history: SpendingHistory, now: datetime | None = None, *, bypass_cache: bool = False
    ) -> AdviceResult:
        if history.is_empty():
            raise ValidationFailed(
                "the spending history has no categories; nothing to advise on", param="history"
            )
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
        if (problem := cached_problem(response)) is not None:  # revalidated like a fresh answer (issue 25)
            log.warning(
                "cache entry %s… fails the answer contract (%s); treated as a miss", key[:12], problem
            )
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

    def token_budget(self, picks: int) -> int:
        """One short reason per service, with JSON around them: a model that loops stops here (its complete
        strings are kept) instead of at 512 tokens, which is what a miss costs in time."""
        return min(self.max_tokens, TOKENS_BASE + TOKENS_PER_REASON * picks)

    async def _compute(self, history: SpendingHistory, now: datetime | None) -> AdviceResult:
        timings: dict[str, float] = {}
        t = time.perf_counter()
        # Off the event loop: a never-seen category name is embedded (about 15 ms each, a synchronous HTTP call
        # with embedder=openai) and the embedder's lock may be held by /v1/embeddings.
        facts, picks = await asyncio.to_thread(self.ranker.read_and_rank, history)
        timings["retrieval"] = time.perf_counter() - t
        if self.writer == "template":  # no prompt, no model
            t = time.perf_counter()
            # off the loop too: writing checks every sentence against the history
            response = await asyncio.to_thread(self._from_catalog, facts, picks)
            timings["validation"] = time.perf_counter() - t
            self.metrics.advisor_reasons.labels("template").inc(len(response.recommendations))
            return AdviceResult(
                response, "miss", timings, {"writer": "template", "sources": [p.source for p in picks]}
            )
        if self.writer == "model":  # the model words it, code fills the figures (issue 24)
            t = time.perf_counter()
            response, quality = await self._from_slots(facts, picks, timings)
            timings["writing"] = time.perf_counter() - t
            return AdviceResult(response, "miss", timings, quality)
        t = time.perf_counter()
        messages = await asyncio.to_thread(build_messages, history, picks, now, facts)
        timings["prompt"] = time.perf_counter() - t
        names = [p.service.service for p in picks]
        broken: str | None = None
        for attempt in range(
            2
        ):  # output that is not even JSON is generated once more, then the request fails
            request = GenerationRequest(
                messages=messages,
                max_tokens=self.token_budget(len(names)),
                json_schema=explain_schema(names),
                temperature=self.temperature if attempt == 0 else 0.7,
                seed=None if attempt == 0 else 7,
            )
            text, finish, ttft, total = await self._generate(request)
            timings.setdefault("llm_ttft", ttft)
            timings["llm_total"] = timings.get("llm_total", 0.0) + total
            timings["attempts"] = attempt + 1
            broken = parse_explanation(text, finish, names)[1]
            if broken is None:
                break
            self.metrics.advisor_fallbacks.labels("regenerated_output").inc()
            log.warning("advisor output unusable (attempt %d): %s", attempt + 1, broken)
        if broken is not None:
            raise ModelOutputError(
                f"the model could not produce a valid explanation ({broken}); please try again"
            )
        if finish == "length":  # the complete strings were kept, the rest is filled with templates
            self.metrics.advisor_fallbacks.labels("truncated_output").inc()
        t = time.perf_counter()
        response, quality = await asyncio.to_thread(self._explain, facts, picks, messages, text, finish)
        timings["validation"] = time.perf_counter() - t
        quality.update(regenerated=timings["attempts"] > 1, truncated=finish == "length")
        return AdviceResult(response, "miss", timings, quality)

    def _explain(
        self,
        facts: Facts,
        picks: list[Pick],
        messages: list[dict[str, str]],
        text: str,
        finish: str,
    ) -> tuple[AdvisorResponse, dict[str, object]]:
        """Check the model's text sentence by sentence; repair with the catalog's words; count the fallbacks."""
        names = [c.name for c in facts.lines()]  # the user's own names are quoted whole, never cut
        checker = Checker(facts, picks, instructions(messages), data_block(messages), self.catalog_facts)
        reasons, _ = parse_explanation(text, finish, [p.service.service for p in picks])
        recs: list[Recommendation] = []
        raw_problems: list[list[str]] = []
        templates = generic = dropped = 0
        for pick, reason in zip(picks, reasons, strict=True):
            verdict = checker.check_reason(reason, pick)
            raw_problems.append(verdict.raw_problems)
            templates += verdict.template
            generic += verdict.generic
            dropped += not verdict.template and bool(verdict.raw_problems)  # false sentences taken out
            recs.append(
                Recommendation(
                    service=pick.service.service,
                    link=pick.service.link,
                    recommendation=strip_links(verdict.text, keep=names),
                    evidence=evidence_items(pick),
                )
            )
        fallbacks = self.metrics.advisor_fallbacks
        self._count_reasons(len(picks), templates, fell_back=templates)
        if dropped:
            fallbacks.labels("dropped_sentence").inc(dropped)
        added = sum(p.source == "fallback" for p in picks)
        if added:
            fallbacks.labels("ranker_added").inc(added)
        quality: dict[str, object] = {
            "raw_text": text,
            "raw_reason_problems": raw_problems,
            "template_reasons": templates,
            "generic_raw_reasons": generic,
            "ranker_added": added,
            "sources": [p.source for p in picks],
        }
        summary_text = strip_links(compose_summary(facts, picks), keep=names)
        return AdvisorResponse(summarization=summary_text, recommendations=recs), quality

    async def _from_slots(
        self, facts: Facts, picks: list[Pick], timings: dict[str, float]
    ) -> tuple[AdvisorResponse, dict[str, object]]:
        """Each reason: up to ``candidates`` sentences with placeholders (greedy first, then sampled), the first
        whose filled text passes the gate is shown, else the template, counted. The reasons of one answer are
        written concurrently, so llama.cpp decodes them in one batch."""
        names = [c.name for c in facts.lines()]
        catalog = self.catalog_facts
        checker = Checker(facts, picks, slot_writer.SYSTEM, "", catalog)
        started = time.perf_counter()
        drafts = await asyncio.gather(
            *(self._write_reason(pick, facts, picks[:i], checker) for i, pick in enumerate(picks))
        )
        timings["llm_total"] = time.perf_counter() - started
        timings["llm_ttft"] = min((d.ttft for d in drafts if d.ttft), default=0.0)
        recs: list[Recommendation] = []
        written: list[str] = []
        for i, (pick, draft) in enumerate(zip(picks, drafts, strict=True)):
            text = draft.text
            written.append("model" if text is not None else "template")
            if text is None:
                text = template_reason(pick, facts, picks[:i], catalog)
            recs.append(
                Recommendation(
                    service=pick.service.service,
                    link=pick.service.link,
                    recommendation=strip_links(text, keep=names),
                    evidence=evidence_items(pick),
                )
            )
        templates = written.count("template")
        failed = sum(1 for d in drafts if d.text is None and d.raw)  # the model tried and no draft passed
        self._count_reasons(len(picks), templates, fell_back=failed)
        timings["completions"] = sum(len(d.raw) for d in drafts)
        quality: dict[str, object] = {
            "writer": "model",
            "written_by": written,
            "candidates": [len(d.raw) for d in drafts],
            "raw": [d.raw for d in drafts],
            "rejected": [d.problems for d in drafts],
            "completion_tokens": sum(d.tokens for d in drafts),
            "template_reasons": templates,
            "sources": [p.source for p in picks],
        }
        summary = strip_links(compose_summary(facts, picks), keep=names)
        return AdvisorResponse(summarization=summary, recommendations=recs), quality

    def _count_reasons(self, shown: int, templates: int, *, fell_back: int) -> None:
        """Every shown reason once by who wrote it; ``fell_back``: the template reasons that stand in for model
        text that did not pass (a reason given the template by design is not a fallback)."""
        self.metrics.advisor_texts.labels("reason").inc(shown)
        self.metrics.advisor_reasons.labels("template").inc(templates)
        self.metrics.advisor_reasons.labels("model").inc(shown - templates)
        if fell_back:
            self.metrics.advisor_fallbacks.labels("template_reason").inc(fell_back)

    async def _write_reason(self, pick: Pick, facts: Facts, before: list[Pick], checker: Checker) -> _Draft:
        plan = slot_writer.plan_for(pick, facts, before, self.catalog_facts, self.ranker.topic_label)
        messages = slot_writer.messages(plan)
        # GBNF travels in the request body to llama.cpp; other engines rely on the gate alone
        grammar = getattr(self.llm.engine, "supports_grammar", False)
        extra = {"grammar": slot_writer.grammar(plan)} if grammar else {}
        draft = _Draft()
        if (
            plan.kind == "other"
        ):  # a fallback: nothing of the user's ties it to them, so nothing for a model to say
            return draft
        for attempt in range(self.candidates):
            request = GenerationRequest(
                messages=messages,
                max_tokens=slot_writer.MAX_TOKENS,
                temperature=0.0 if attempt == 0 else 0.8,
                seed=None if attempt == 0 else attempt,
                adapter=self.writer_adapter,
                extra=extra,
            )
            try:
                raw, finish, ttft, _total, tokens = await self._generate_counted(request)
            except FinadvisorError as exc:  # this reason gets the template; the answer still stands
                log.warning("model writer: generation failed (%s); the template stands in", exc.error_type)
                draft.problems.append([f"generation failed: {exc.error_type}"])
                return draft
            draft.ttft = draft.ttft or ttft
            draft.tokens += tokens
            draft.raw.append(raw)
            sentence = slot_writer.fill(plan, raw) if finish != "length" else None
            found = await asyncio.to_thread(slot_writer.gate, plan, raw, sentence, checker, pick)
            if finish == "length":
                found = ["cut by the token limit", *found]
            if not found and sentence is not None:
                draft.text = slot_writer.shown(plan, sentence)
                return draft
            draft.problems.append(found)
        return draft

    def _from_catalog(self, facts: Facts, picks: list[Pick]) -> AdvisorResponse:
        """The advisor's facts, then the benefit of the catalog's stated figure or the catalog's own words, with
        no model text (``writer="template"``)."""
        names = [c.name for c in facts.lines()]  # the user's own names are quoted whole, never cut
        catalog = self.catalog_facts
        recs = [
            Recommendation(
                service=p.service.service,
                link=p.service.link,
                recommendation=strip_links(template_reason(p, facts, picks[:i], catalog), keep=names),
                evidence=evidence_items(p),
            )
            for i, p in enumerate(picks)
        ]
        return AdvisorResponse(
            summarization=strip_links(compose_summary(facts, picks), keep=names), recommendations=recs
        )

    async def _generate_counted(self, request: GenerationRequest) -> tuple[str, str, float, float, int]:
        """``_generate`` plus the completion tokens the engine reported (0 when it reported none)."""
        start = time.perf_counter()
        ttft = 0.0
        parts: list[str] = []
        finish = "stop"
        tokens = 0
        async for delta in self.llm.stream(request):
            if delta.text and not parts:
                ttft = time.perf_counter() - start
            parts.append(delta.text)
            if delta.finish_reason is not None:
                finish = delta.finish_reason
            tokens = delta.completion_tokens or tokens
        return "".join(parts), finish, ttft, time.perf_counter() - start, tokens

    async def _generate(self, request: GenerationRequest) -> tuple[str, str, float, float]:
        text, finish, ttft, total, _tokens = await self._generate_counted(request)
        return text, finish, ttft, total

    def _record(self, result: AdviceResult) -> None:
        self.metrics.advisor_requests.labels(result.cache).inc()
        for stage, seconds in result.timings.items():
            if stage not in ("attempts", "completions"):
                self.metrics.advisor_stage.labels(stage).observe(seconds)
        fields = {
            "cache": result.cache,
            "timings_ms": {
                k: round(v * 1000, 2) if k not in ("attempts", "completions") else v
                for k, v in result.timings.items()
            },
            "services": [r.link for r in result.response.recommendations],
        }
        # text mode: the JSON text as before; JSON mode: the fields as keys of the line's object
        log_event(
            log,
            "recommendation",
            fields,
            text=json.dumps({"event": "recommendation", **fields}, ensure_ascii=False),
        )

    async def close(self) -> None:
        await self.cache.close()
