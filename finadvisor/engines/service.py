"""The gate in front of an engine: admission control, timeouts, adapter routing and metrics.

Both the OpenAI routes and the advisor call the engine through one ``LLMService``, so the bounded queue, the
time budget and the Prometheus numbers cover all traffic. Requests beyond ``capacity + max_waiting`` are refused
at once with 503 + Retry-After instead of piling up.

The service also enforces the engine's capability flags (``finadvisor.engines.base.CAPABILITIES``): a request that
asks for tools, logprobs, penalties, a raw prompt, a LoRA adapter or (from the OpenAI routes) a JSON schema that the
engine cannot honour is refused with a 400 naming the parameter, never answered as if it had not been asked.
Served names: ``model_name`` plus ``aliases`` (old names kept so that existing clients keep working).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from finadvisor.engines.base import Delta, Engine, Generation, GenerationBuilder, GenerationRequest
from finadvisor.errors import (
    EngineUnavailable,
    FinadvisorError,
    InvalidRequest,
    NotFound,
    Overloaded,
    UpstreamTimeout,
)
from finadvisor.metrics import Metrics

# The packaged model's true name, and the name it was served under before (kept as an alias).
DEFAULT_MODEL_NAME = "qwen2.5-coder-0.5b-instruct"
MODEL_ALIASES: dict[str, tuple[str, ...]] = {
    DEFAULT_MODEL_NAME: ("qwen2.5-0.5b-instruct",),
    "qwen2.5-0.5b-instruct": (DEFAULT_MODEL_NAME,),
}


def served_name(model_name: str) -> str:
    """The id to show for the packaged model: its real name, even when configured under the old one."""
    return DEFAULT_MODEL_NAME if model_name == "qwen2.5-0.5b-instruct" else model_name


def unsupported(engine: Engine, request: GenerationRequest) -> str | None:
    """The first request parameter that ``engine`` cannot honour, or None."""

    def lacks(flag: str) -> bool:
        return not getattr(engine, flag, False)

    asked = {
        "response_format": request.strict and (request.json_schema is not None or request.json_object),
        "tools": bool(request.tools) or request.tool_choice not in (None, "none", "auto"),
        "logprobs": request.logprobs or request.top_logprobs is not None,
        "frequency_penalty": request.frequency_penalty is not None,
        "presence_penalty": request.presence_penalty is not None,
        "logit_bias": bool(request.logit_bias),
        "prompt": request.prompt is not None,
    }
    flags = {
        "response_format": "supports_json_schema",
        "tools": "supports_tools",
        "logprobs": "supports_logprobs",
        "frequency_penalty": "supports_penalties",
        "presence_penalty": "supports_penalties",
        "logit_bias": "supports_penalties",
        "prompt": "supports_completions",
    }
    for param, wanted in asked.items():
        if wanted and lacks(flags[param]):
            return param
    return None


class LLMService:
    def __init__(
        self,
        engine: Engine,
        metrics: Metrics,
        *,
        model_name: str,
        capacity: int = 4,
        max_waiting: int = 64,
        timeout_s: float = 300.0,
        aliases: tuple[str, ...] | None = None,
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.model_name = served_name(model_name)
        self.aliases = tuple(
            aliases
            if aliases is not None
            else (a for a in MODEL_ALIASES.get(model_name, ()) if a != self.model_name)
        )
        if model_name != self.model_name and model_name not in self.aliases:
            self.aliases += (model_name,)
        self.capacity = capacity
        self.max_waiting = max_waiting
        self.timeout_s = timeout_s
        self._slots = asyncio.Semaphore(capacity)
        self._in_flight = 0

    def model_names(self) -> list[str]:
        return [self.model_name, *self.aliases, *self.engine.adapters()]

    def resolve_adapter(self, model: str | None) -> str | None:
        """Map a request's ``model`` to an adapter name (None = base model); unknown names are 404s."""
        if model is None or model == self.model_name or model in self.aliases:
            return None
        if model in self.engine.adapters():
            return model
        raise NotFound(
            f"model {model!r} does not exist; available: {', '.join(self.model_names())}",
            param="model",
            code="model_not_found",
        )

    def check(self, request: GenerationRequest) -> None:
        """Refuse, naming the parameter, what this engine cannot do (400)."""
        param = unsupported(self.engine, request)
        if param is not None:
            raise InvalidRequest(
                f"{param} is not supported by the {self.engine.name!r} engine; remove it or "
                "serve with an engine that supports it (llamacpp, vllm, openai)",
                param=param,
                code="unsupported_parameter",
            )

    def _gauges(self) -> None:
        self.metrics.running.labels(self.model_name).set(min(self._in_flight, self.capacity))
        self.metrics.waiting.labels(self.model_name).set(max(0, self._in_flight - self.capacity))

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        """Stream deltas; raises before the first delta for refusals, overflows and timeouts."""
        self.check(request)
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
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that races the
                # acquire (a Ctrl-C or a client that went away then hangs, or a slot is lost).
                async with asyncio.timeout(self.timeout_s):
                    await self._slots.acquire()
            except TimeoutError as exc:
                raise Overloaded(
                    "no decoding slot became free in time; retry shortly", retry_after=5
                ) from exc
            iterator = aiter(self.engine.stream(request))
            try:
                first = last = None
                while True:
                    remaining = deadline - time.perf_counter()
                    if remaining <= 0:
                        raise UpstreamTimeout(f"generation exceeded the {self.timeout_s:.0f} s time budget")
                    try:
                        async with asyncio.timeout(remaining):
                            delta = await anext(iterator)
                    except StopAsyncIteration:
                        break
                    except TimeoutError as exc:
                        raise UpstreamTimeout(
                            f"generation exceeded the {self.timeout_s:.0f} s time budget"
                        ) from exc
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
        builder = GenerationBuilder()
        async for delta in self.stream(request):
            builder.add(delta)
        return builder.result()


async def _aclose(iterator: AsyncIterator[Delta]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()
