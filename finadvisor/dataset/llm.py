"""The one thing ``dataset generate`` needs from a model: JSON text under a JSON schema, for a chat.

Two implementations, chosen by the CLI and injectable in tests:

- ``EngineLLM``: any in-process ``finadvisor.engines`` Engine (the embedded llama.cpp one by default, FakeEngine
  in tests);
- ``UpstreamLLM``: an OpenAI-compatible ``/v1/chat/completions`` over httpx, with ``response_format`` of type
  ``json_schema``, timeouts and retries (``httpx.MockTransport`` in tests).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import httpx

from finadvisor.engines import Engine, GenerationRequest, generate
from finadvisor.errors import UpstreamError, UpstreamTimeout


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
        request = GenerationRequest(messages=messages, json_schema=schema, max_tokens=max_tokens,
                                    temperature=self.temperature)
        return (await generate(self.engine, request)).text


def api_base(url: str) -> str:
    """``http://host:8001`` and ``http://host:8001/v1/`` both become ``http://host:8001/v1``."""
    url = url.rstrip("/")
    return url if url.endswith("/v1") else url + "/v1"


class UpstreamLLM:
    def __init__(self, url: str, *, model: str | None = None, api_key: str | None = None,
                 timeout_s: float = 180.0, retries: int = 2, backoff_s: float = 1.0,
                 transport: httpx.AsyncBaseTransport | None = None, temperature: float = 0.2) -> None:
        self.base = api_base(url)
        self.model = model
        self.name = f"upstream:{self.base}"
        self.retries = retries
        self.backoff_s = backoff_s
        self.temperature = temperature
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), transport=transport, headers=headers)

    async def start(self) -> None:
        if self.model is None:
            data = await self._call("GET", "/models")
            models = data.get("data") if isinstance(data, dict) else None
            if not models or not isinstance(models[0], dict) or "id" not in models[0]:
                raise UpstreamError(f"{self.base}/models listed no model; pass --model NAME")
            self.model = str(models[0]["id"])

    async def close(self) -> None:
        await self._client.aclose()

    async def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> str:
        body = {"model": self.model, "messages": messages, "max_tokens": max_tokens,
                "temperature": self.temperature,
                "response_format": {"type": "json_schema",
                                    "json_schema": {"name": "qa_pairs", "schema": schema, "strict": True}}}
        data = await self._call("POST", "/chat/completions", body)
        try:
            content = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise UpstreamError(f"{self.base}/chat/completions answered without choices[0].message.content") from None
        if not isinstance(content, str):
            raise UpstreamError(f"{self.base}/chat/completions answered with non-text content")
        return content

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = self.base + path
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                response = await self._client.request(method, url, json=body)
            except httpx.TimeoutException:
                problem = "timeout"
                continue
            except httpx.TransportError as exc:
                problem = f"connection error: {exc}"
                continue
            if response.status_code in (429, 500, 502, 503, 504):
                problem = f"HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                raise UpstreamError(f"{method} {url}: HTTP {response.status_code}: {response.text[:200]}")
            try:
                return response.json()
            except ValueError:
                raise UpstreamError(f"{method} {url} did not answer JSON") from None
        message = f"{method} {url} failed after {self.retries + 1} attempts ({problem}); is the server up?"
        if problem == "timeout":
            raise UpstreamTimeout(message)
        raise UpstreamError(message)
