"""Any OpenAI-compatible upstream (vLLM, llama-server, Ollama, OpenAI) as an engine.

Streaming is proxied chunk by chunk: each upstream SSE event becomes one ``Delta`` as soon as it arrives.
Structured output uses ``response_format`` (vLLM >= 0.12 silently ignores the legacy ``guided_json``), and the
caller still validates every output. LoRA adapters are addressed by model name, as vLLM's ``--lora-modules`` does.
Tools, ``tool_choice``, logprobs, penalties and ``logit_bias`` are the upstream's to honour: they are passed through
unchanged, and streamed ``tool_calls`` and logprobs come back as they arrive. A raw prompt goes to ``/completions``.

Why not the official ``openai`` SDK (issue 26 asked): measured by ``benchmarks/library_choices.py``, consuming a
streamed chunk costs this loop about 8 µs and the SDK (3.x, on its own HTTP stack httpx2) about 120 µs, paid per
token per stream by a proxy; the SDK's retries are not wanted here either: a busy upstream becomes a 503 with
Retry-After that the client retries (docs/ARCHITECTURE.md, "Decisions").
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from finadvisor.engines.base import SAMPLING_KEYS, TOOL_KEYS, Delta, GenerationRequest, openai_body
from finadvisor.errors import (
    ConfigError,
    ContextOverflow,
    EngineUnavailable,
    InvalidRequest,
    UpstreamError,
    UpstreamTimeout,
)
from finadvisor.protocol import openai_base_url
from finadvisor.settings import Settings


class OpenAIUpstreamEngine:
    name = "openai"
    supports_json_schema = True
    supports_lora = True
    supports_tools = True
    supports_logprobs = True
    supports_penalties = True
    supports_completions = True

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model: str | None = None,
        adapters: list[str] | None = None,
        timeout_s: float = 300.0,
        transport: httpx.AsyncBaseTransport | None = None,
        slots: int = 64,
    ) -> None:
        self.slots = slots  # the upstream schedules its own batches; this bounds what we send it at once
        self.base_url = openai_base_url(base_url)
        self.model = model
        self._adapters = adapters or []
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = httpx.Timeout(timeout_s, connect=10.0)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._ready = False

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIUpstreamEngine:
        if not settings.upstream_url:
            raise ConfigError(
                "engine 'openai' needs an upstream: pass --upstream URL or set FINADVISOR_UPSTREAM_URL"
            )
        return cls(
            settings.upstream_url,
            api_key=settings.upstream_api_key,
            model=settings.upstream_model,
            adapters=[spec.split("=", 1)[0] for spec in settings.lora],
            timeout_s=settings.request_timeout_s,
            slots=max(settings.n_parallel, 64),
        )

    async def start(self) -> None:
        if self._client is None:  # start() may be retried while the upstream comes up
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                headers=self._headers,
                timeout=self._timeout,
                transport=self._transport,
                limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
            )
        try:
            resp = await self._client.get("/models")
            resp.raise_for_status()
            models = [m["id"] for m in resp.json().get("data", [])]
        except httpx.HTTPError as exc:
            raise EngineUnavailable(
                f"upstream {self.base_url} is not reachable: {exc}", retry_after=5
            ) from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise UpstreamError(f"upstream {self.base_url}/models returned an unexpected body") from exc
        if self.model is None:
            if not models:
                raise UpstreamError(f"upstream {self.base_url} serves no models")
            self.model = models[0]
        self._ready = True

    async def close(self) -> None:
        self._ready = False
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def ready(self) -> bool:
        return self._ready

    def adapters(self) -> list[str]:
        return list(self._adapters)

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        if request.adapter is not None and request.adapter not in self._adapters:
            raise InvalidRequest(f"unknown adapter {request.adapter!r}", param="model")
        body = {
            "model": request.adapter or self.model,
            **openai_body(request, keys=(*SAMPLING_KEYS, *TOOL_KEYS)),
        }
        if request.json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": request.json_schema},
            }
        elif request.json_object:
            body["response_format"] = {"type": "json_object"}
        body.update(request.extra)
        return body

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        if self._client is None:
            raise EngineUnavailable("the upstream engine is not started", retry_after=5)
        body = self._body(request)
        finish: str | None = None
        prompt_tokens = completion_tokens = 0
        raw = request.prompt is not None
        try:
            async with self._client.stream(
                "POST", "/completions" if raw else "/chat/completions", json=body
            ) as resp:
                if resp.status_code >= 400:
                    await resp.aread()
                    raise self._http_error(resp)
                async for line in resp.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        event = json.loads(data)
                    except json.JSONDecodeError as exc:
                        raise UpstreamError("upstream sent a malformed stream event") from exc
                    if "error" in event:
                        raise UpstreamError(f"upstream error: {str(event['error'])[:200]}")
                    usage = event.get("usage")
                    if usage:
                        prompt_tokens = int(usage.get("prompt_tokens") or 0)
                        completion_tokens = int(usage.get("completion_tokens") or 0)
                    for choice in event.get("choices") or []:
                        if choice.get("finish_reason"):
                            finish = choice["finish_reason"]
                        delta = choice.get("delta") or {}
                        text = choice.get("text") if raw else delta.get("content")
                        logprobs = choice.get("logprobs") or {}
                        entries = logprobs.get("content") if isinstance(logprobs, dict) else None
                        if raw and isinstance(logprobs, dict) and "tokens" in logprobs:  # legacy completions
                            entries = [
                                {
                                    "token": t,
                                    "logprob": lp,
                                    "bytes": None,
                                    "top_logprobs": [
                                        {"token": k, "logprob": v, "bytes": None}
                                        for k, v in (top or {}).items()
                                    ],
                                }
                                for t, lp, top in zip(
                                    logprobs["tokens"],
                                    logprobs.get("token_logprobs") or [],
                                    logprobs.get("top_logprobs") or [],
                                    strict=False,
                                )
                            ]
                        if text or delta.get("tool_calls") or entries:
                            yield Delta(
                                text=text or "",
                                tool_calls=delta.get("tool_calls") or None,
                                logprobs=entries or None,
                            )
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(f"upstream {self.base_url} did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise EngineUnavailable(
                f"upstream {self.base_url} failed: {type(exc).__name__}", retry_after=5
            ) from exc
        yield Delta(
            finish_reason=finish or "stop", prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )

    def _http_error(self, resp: httpx.Response) -> Exception:
        try:
            detail = resp.json().get("error", {})
            message = detail.get("message") if isinstance(detail, dict) else str(detail)
        except ValueError:
            message = resp.text[:200]
        message = message or f"HTTP {resp.status_code}"
        if resp.status_code == 400 and "context" in message.lower():
            return ContextOverflow(f"upstream: {message}", param="messages", code="context_length_exceeded")
        if 400 <= resp.status_code < 500 and resp.status_code not in (401, 403, 429):
            return InvalidRequest(f"upstream rejected the request: {message}")
        if resp.status_code in (429, 503):
            return EngineUnavailable(f"upstream is busy: {message}", retry_after=5)
        return UpstreamError(f"upstream answered {resp.status_code}: {message}")
