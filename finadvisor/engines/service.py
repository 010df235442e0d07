"""The gate in front of an engine: admission control, timeouts, adapter routing and metrics.

Both the OpenAI routes and the advisor call the engine through one ``LLMService``, so the bounded queue, the
time budget and the Prometheus numbers cover all traffic. Requests beyond ``capacity + max_waiting`` are refused
at once with 503 + Retry-After instead of piling up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from finadvisor.engines.base import Delta, Engine, Generation, GenerationRequest
from finadvisor.errors import EngineUnavailable, FinadvisorError, NotFound, Overloaded, UpstreamTimeout
from finadvisor.metrics import Metrics


class LLMService:
    def __init__(self, engine: Engine, metrics: Metrics, *, model_name: str, capacity: int = 4,
                 max_waiting: int = 64, timeout_s: float = 300.0) -> None:
        self.engine = engine
        self.metrics = metrics
        self.model_name = model_name
        self.capacity = capacity
        self.max_waiting = max_waiting
        self.timeout_s = timeout_s
        self._slots = asyncio.Semaphore(capacity)
        self._in_flight = 0

    def model_names(self) -> list[str]:
        return [self.model_name, *self.engine.adapters()]

    def resolve_adapter(self, model: str | None) -> str | None:
        """Map a request's ``model`` to an adapter name (None = base model); unknown names are 404s."""
        if model is None or model == self.model_name:
            return None
        if model in self.engine.adapters():
            return model
        raise NotFound(f"model {model!r} does not exist; available: {', '.join(self.model_names())}",
                       param="model", code="model_not_found")

    def _gauges(self) -> None:
        self.metrics.running.labels(self.model_name).set(min(self._in_flight, self.capacity))
        self.metrics.waiting.labels(self.model_name).set(max(0, self._in_flight - self.capacity))

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        """Stream deltas; raises before the first delta for refusals, overflows and timeouts."""
        if not self.engine.ready():
            raise EngineUnavailable("the model is still loading; retry shortly", retry_after=5)
        if self._in_flight >= self.capacity + self.max_waiting:
            self.metrics.rejected.labels(self.model_name).inc()
            raise Overloaded("the server is at capacity; retry shortly", retry_after=2)
        label = request.adapter or self.model_name
        started = time.perf_counter()
        deadline = started + self.timeout_s
        self._in_flight += 1
        self._gauges()
        finish = None
        try:
            try:
                await asyncio.wait_for(self._slots.acquire(), timeout=self.timeout_s)
            except TimeoutError as exc:
                raise Overloaded("no decoding slot became free in time; retry shortly", retry_after=5) from exc
            iterator = aiter(self.engine.stream(request))
            try:
                first = last = None
                while True:
                    remaining = deadline - time.perf_counter()
                    if remaining <= 0:
                        raise UpstreamTimeout(f"generation exceeded the {self.timeout_s:.0f} s time budget")
                    try:
                        delta = await asyncio.wait_for(anext(iterator), timeout=remaining)
                    except StopAsyncIteration:
                        break
                    except TimeoutError as exc:
                        raise UpstreamTimeout(
                            f"generation exceeded the {self.timeout_s:.0f} s time budget") from exc
                    now = time.perf_counter()
                    if delta.text:
                        if first is None:
                            first = now
                            self.metrics.ttft.labels(label).observe(now - started)
                        elif last is not None:
                            self.metrics.itl.labels(label).observe(now - last)
                        last = now
                    if delta.finish_reason is not None:
                        finish = delta.finish_reason
                        self.metrics.prompt_tokens.labels(label).inc(delta.prompt_tokens or 0)
                        self.metrics.generation_tokens.labels(label).inc(delta.completion_tokens or 0)
                    yield delta
            finally:
                # Closing the engine's stream tells it to stop decoding (e.g. the client went away).
                await _aclose(iterator)
                self._slots.release()
        except FinadvisorError as exc:
            self.metrics.failures.labels(label, exc.error_type).inc()
            raise
        finally:
            self._in_flight -= 1
            self._gauges()
            if finish is not None:
                self.metrics.success.labels(label, finish).inc()
                self.metrics.e2e.labels(label).observe(time.perf_counter() - started)

    async def generate(self, request: GenerationRequest) -> Generation:
        parts: list[str] = []
        final = Delta(finish_reason="stop", prompt_tokens=0, completion_tokens=0)
        async for delta in self.stream(request):
            parts.append(delta.text)
            if delta.finish_reason is not None:
                final = delta
        return Generation("".join(parts), final.finish_reason or "stop", final.prompt_tokens or 0,
                          final.completion_tokens or 0)


async def _aclose(iterator: AsyncIterator[Delta]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()
