"""The one thing ``dataset generate`` needs from a model: JSON text under a JSON schema, for a chat.

Two implementations, chosen by the CLI and injectable in tests:

- ``EngineLLM``: any in-process ``finadvisor.engines`` Engine (the embedded llama.cpp one by default, FakeEngine
  in tests);
- ``UpstreamLLM``: an OpenAI-compatible server through the same client as the ``openai`` engine
  (``engines/openai_upstream.py``: ``response_format`` of type ``json_schema``, the ``/v1`` URL rule, error
  mapping), with retries and backoff for a long offline job (``httpx.MockTransport`` in tests). There used to be a
  second, hand-written OpenAI client here (issue 16.6).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from finadvisor.engines import Engine, GenerationRequest, generate
from finadvisor.engines.openai_upstream import OpenAIUpstreamEngine
from finadvisor.errors import EngineUnavailable, UpstreamError, UpstreamTimeout

_T = TypeVar("_T")
# Worth another try: busy or down (429/503, connection errors), 5xx and malformed streams, timeouts.
_TRANSIENT = (EngineUnavailable, UpstreamError, UpstreamTimeout)


class JsonLLM(Protocol):
    name: str

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> str:
        """Return the model's text, which should be a JSON document valid against ``schema``."""
        ...


class EngineLLM:
    def __init__(self, engine: Engine, *, owns_engine: bool = True, temperature: float = 0.2) -> None:
        self.engine = engine
        self.name = f"engine:{engine.name}"
        self.owns_engine = owns_engine
        self.temperature = temperature

    async def start(self) -> None:
        if not self.engine.ready():
            await self.engine.start()

    async def close(self) -> None:
        if self.owns_engine:
            await self.engine.close()

    async def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> str:
        request = GenerationRequest(
            messages=messages, json_schema=schema, max_tokens=max_tokens, temperature=self.temperature
        )
        return (await generate(self.engine, request)).text


class UpstreamLLM(EngineLLM):
    """An OpenAI-compatible server through the project's one upstream client (:class:`OpenAIUpstreamEngine`),
    plus what a long offline job needs on top of it: retries with exponential backoff on busy (429/503), 5xx,
    timeouts and dropped connections. A 4xx other than 429 is the request's fault and is not retried."""

    def __init__(
        self,
        url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 180.0,
        retries: int = 2,
        backoff_s: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
        temperature: float = 0.2,
    ) -> None:
        engine = OpenAIUpstreamEngine(
            url, api_key=api_key, model=model, timeout_s=timeout_s, transport=transport, slots=1
        )
        super().__init__(engine, temperature=temperature)
        self.name = f"upstream:{engine.base_url}"
        self.retries = retries
        self.backoff_s = backoff_s

    async def start(self) -> None:
        await self._retrying(self.engine.start)

    async def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> str:
        return await self._retrying(lambda: EngineLLM.complete(self, messages, schema, max_tokens))

    async def _retrying(self, call: Callable[[], Awaitable[_T]]) -> _T:
        """``call`` with ``retries`` more tries on a transient error, waiting backoff_s, 2x, 4x ... (tenacity)."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retries + 1),
            reraise=True,
            wait=wait_exponential(multiplier=self.backoff_s, exp_base=2, min=0),
            retry=retry_if_exception_type(_TRANSIENT),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await call()
        except _TRANSIENT as problem:
            message = (
                f"{self.name} failed after {self.retries + 1} attempts ({problem.message}); is the server up?"
            )
            raise type(problem)(message) from problem
        raise AssertionError("unreachable: the last attempt returns or raises")
