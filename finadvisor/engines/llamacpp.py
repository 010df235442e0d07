"""The default engine: llama.cpp in-process, through ``xllamacpp``.

Why xllamacpp and not llama-cpp-python: xllamacpp embeds llama.cpp's own C++ server loop (slots, continuous
batching, LLGuidance JSON-schema decoding) and ships a prebuilt CPU wheel, while llama-cpp-python builds for five
minutes and decodes one request at a time behind a lock. We call the server's handler from worker threads (it
releases the GIL), so concurrent requests share decode batches.

Each request runs ``handle_chat_completions`` (or ``handle_completions`` for a raw prompt) in a thread; streamed chunks are handed to the event loop through
an ``asyncio.Queue``. When the consumer goes away (client disconnect), the callback returns True, which makes
llama.cpp stop the task and free the slot.

Tools go through the model's chat template (``use_jinja``); see ``finadvisor.engines.tools`` for why a named or
required ``tool_choice`` is enforced with a JSON schema and "auto" answers are parsed from the text as well.
Logprobs, penalties and ``logit_bias`` are llama.cpp's own and are passed on unchanged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from finadvisor.engines.base import Delta, GenerationRequest, openai_body
from finadvisor.engines.tools import (
    AutoToolStream,
    ConstrainedToolStream,
    call_deltas,
    compact_schema,
    constraint_schema,
    wants_constraint,
)
from finadvisor.errors import ConfigError, ContextOverflow, EngineUnavailable, InvalidRequest, UpstreamError
from finadvisor.settings import Settings

log = logging.getLogger(__name__)
_DONE = object()


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def _error_from(payload: dict[str, Any]) -> Exception:
    err = payload.get("error") or {}
    message = str(err.get("message") or "llama.cpp returned an error")
    kind = str(err.get("type") or "")
    if kind == "exceed_context_size_error":
        return ContextOverflow(
            f"the prompt has {err.get('n_prompt_tokens')} tokens but the context window per request is "
            f"{err.get('n_ctx')} tokens; shorten the messages or raise --n-ctx",
            param="messages",
            code="context_length_exceeded",
        )
    if int(err.get("code") or 500) < 500:
        return InvalidRequest(message)
    return UpstreamError(f"llama.cpp error: {message}")


class LlamaCppEngine:
    name = "llamacpp"
    supports_json_schema = True
    supports_lora = True
    supports_grammar = True  # a GBNF grammar in the request body (``extra={"grammar": ...}``)
    supports_tools = True
    supports_logprobs = True
    supports_penalties = True
    supports_completions = True

    def __init__(
        self,
        model_path: Path | None,
        *,
        cache_dir: Path,
        n_ctx: int = 8192,
        n_parallel: int = 4,
        n_threads: int = 0,
        n_batch: int = 2048,
        n_ubatch: int = 512,
        flash_attn: bool = True,
        lora: list[str] | None = None,
        model_name: str = "default",
    ) -> None:
        self.model_path = model_path
        self.cache_dir = cache_dir
        self.n_ctx = n_ctx
        self.n_parallel = n_parallel
        self.slots = n_parallel
        self.n_threads = n_threads or available_cores()
        self.n_batch = n_batch
        self.n_ubatch = n_ubatch
        self.flash_attn = flash_attn
        self.model_name = model_name
        self._lora = self._parse_lora(lora or [])
        self._server: Any = None
        # One worker thread per slot plus headroom for queued requests waiting on llama.cpp's own queue.
        self._pool = ThreadPoolExecutor(max_workers=max(8, n_parallel * 4), thread_name_prefix="llamacpp")

    @classmethod
    def from_settings(cls, settings: Settings) -> LlamaCppEngine:
        return cls(
            Path(settings.model) if settings.model else None,
            cache_dir=settings.cache_dir,
            n_ctx=settings.n_ctx,
            n_parallel=settings.n_parallel,
            n_threads=settings.n_threads,
            n_batch=settings.n_batch,
            n_ubatch=settings.n_ubatch,
            flash_attn=settings.flash_attn,
            lora=settings.lora,
            model_name=settings.model_name,
        )

    @staticmethod
    def _parse_lora(specs: list[str]) -> dict[str, Path]:
        adapters: dict[str, Path] = {}
        for spec in specs:
            name, sep, path = spec.partition("=")
            if not sep or not name or not path:
                raise ConfigError(f"--lora expects NAME=PATH, got {spec!r}")
            p = Path(path).expanduser()
            if p.is_dir():
                ggufs = sorted(p.glob("*.gguf"))
                if not ggufs:
                    raise ConfigError(
                        f"LoRA folder {p} has no .gguf adapter; convert it with "
                        f"'finadvisor finetune export-gguf --adapter {p} --out {p}/adapter.gguf'"
                    )
                p = ggufs[0]
            if not p.is_file():
                raise ConfigError(f"LoRA adapter {p} does not exist")
            adapters[name] = p
        return adapters

    # --- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._pool, self._load)

    def _load(self) -> None:
        import xllamacpp as xlc

        from finadvisor.models import resolve_model

        path = resolve_model(str(self.model_path) if self.model_path else None, self.cache_dir)
        params = xlc.CommonParams()
        params.model.path = str(path)
        params.n_ctx = self.n_ctx
        params.n_parallel = self.n_parallel
        params.n_batch = self.n_batch
        params.n_ubatch = self.n_ubatch
        params.cpuparams.n_threads = self.n_threads
        params.cpuparams_batch.n_threads = self.n_threads
        params.cont_batching = True
        params.verbosity = -1
        params.warmup = True
        if self.flash_attn:
            params.flash_attn_type = xlc.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_ENABLED
        if self._lora:
            infos = []
            for adapter_path in self._lora.values():
                info = xlc.CommonAdapterLoraInfo(str(adapter_path), 0.0)
                infos.append(info)
            params.lora_adapters = infos
            params.lora_init_without_apply = True
        try:
            self._server = xlc.Server(params)
        except Exception as exc:  # xllamacpp raises plain RuntimeError/ValueError on load failures
            raise ConfigError(f"llama.cpp could not load {path}: {exc}") from exc
        log.info(
            "llama.cpp ready: %s (n_ctx=%d, slots=%d, threads=%d)",
            path.name,
            self.n_ctx,
            self.n_parallel,
            self.n_threads,
        )

    async def close(self) -> None:
        # Dropping the last reference stops llama.cpp's server loop (its destructor joins the loop thread).
        self._server = None
        self._pool.shutdown(wait=False, cancel_futures=True)

    def ready(self) -> bool:
        return self._server is not None

    def adapters(self) -> list[str]:
        return list(self._lora)

    @property
    def context_per_slot(self) -> int:
        return self.n_ctx // self.n_parallel

    # --- generation ------------------------------------------------------------------------------------
    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        body = {**openai_body(request), "cache_prompt": True}
        schema = request.json_schema
        if request.tools and request.tool_choice != "none":
            body["tools"] = request.tools
            if wants_constraint(request.tool_choice):
                # The template still shows the tools; our schema, not llama.cpp's lazy grammar, forces the call.
                # Passed as a grammar: llama.cpp drops llguidance's compact-JSON option from a response_format
                # schema, and pretty-printed calls spend a third of their tokens on indentation.
                import xllamacpp as xlc

                body["tool_choice"] = "none"
                call = constraint_schema(request.tools, request.tool_choice, request.parallel_tool_calls)
                body["grammar"] = xlc.json_schema_to_grammar(json.dumps(compact_schema(call)))
            elif request.parallel_tool_calls is not None:
                body["parallel_tool_calls"] = request.parallel_tool_calls
        if schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": schema},
            }
        elif request.json_object:
            body["response_format"] = {"type": "json_object"}
        if self._lora:
            names = list(self._lora)
            if request.adapter is not None and request.adapter not in self._lora:
                raise InvalidRequest(f"unknown adapter {request.adapter!r}", param="model")
            body["lora"] = [
                {"id": i, "scale": 1.0 if name == request.adapter else 0.0} for i, name in enumerate(names)
            ]
        elif request.adapter is not None:
            raise InvalidRequest(f"unknown adapter {request.adapter!r}", param="model")
        body.update(request.extra)
        return body

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        server = self._server
        if server is None:
            raise EngineUnavailable("the model is still loading; retry shortly", retry_after=5)
        body = self._body(request)
        raw = request.prompt is not None
        handler = server.handle_completions if raw else server.handle_chat_completions
        tools = request.tools if (request.tools and request.tool_choice != "none" and not raw) else None
        constrained = (
            ConstrainedToolStream(tools, request.tool_choice, request.parallel_tool_calls)
            if tools is not None and wants_constraint(request.tool_choice)
            else None
        )
        auto = AutoToolStream(tools, request.parallel_tool_calls) if tools and constrained is None else None
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancelled = threading.Event()

        def on_chunk(chunk: Any) -> bool:
            loop.call_soon_threadsafe(queue.put_nowait, chunk)
            return cancelled.is_set()  # True tells llama.cpp to stop this task and free its slot

        def run() -> None:
            try:
                result = handler(body, on_chunk)
                if isinstance(result, dict) and "error" in result:
                    loop.call_soon_threadsafe(queue.put_nowait, result)
            except ValueError as exc:  # schema/grammar problems are the caller's
                loop.call_soon_threadsafe(
                    queue.put_nowait, InvalidRequest(f"invalid request: {exc}", param="response_format")
                )
            except Exception as exc:
                loop.call_soon_threadsafe(queue.put_nowait, UpstreamError(f"llama.cpp failed: {exc}"))
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)

        future = loop.run_in_executor(self._pool, run)
        finish: str | None = None
        prompt_tokens = completion_tokens = 0
        pending_lp: list[dict[str, Any]] = []
        native_calls = False
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    break
                if isinstance(item, Exception):
                    raise item
                if "error" in item:
                    raise _error_from(item)
                usage = item.get("usage")
                if usage:
                    prompt_tokens = int(usage.get("prompt_tokens", 0))
                    completion_tokens = int(usage.get("completion_tokens", 0))
                for choice in item.get("choices") or []:
                    delta = choice.get("delta") or {}
                    text = choice.get("text") if raw else delta.get("content")
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
                    pending_lp += (choice.get("logprobs") or {}).get("content") or []
                    if delta.get("tool_calls"):  # llama.cpp's own parser found a call (<tool_call> tags)
                        native_calls = True
                        yield Delta(tool_calls=delta["tool_calls"])
                    if not text:
                        continue
                    if constrained is not None:  # parsed once complete
                        constrained.feed(text)
                        continue
                    out = auto.feed(text) if auto is not None else text
                    if out:
                        yield Delta(text=out, logprobs=pending_lp or None)
                        pending_lp = []
            tail, calls = "", None
            if constrained is not None:  # a call, complete or cut short, never the wrapper as text
                calls, finish = constrained.finish(finish)
            elif auto is not None:
                calls, tail = auto.finish(truncated=finish == "length")
                if calls:
                    finish = "tool_calls"  # a complete call, even when a repeat of it was cut short
            if calls:
                yield Delta(tool_calls=call_deltas(calls), logprobs=pending_lp or None)
            elif tail or pending_lp:
                yield Delta(text=tail, logprobs=pending_lp or None)
            if native_calls and finish in (None, "stop"):
                finish = "tool_calls"
            yield Delta(
                finish_reason=finish or "stop",
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
            )
        finally:
            cancelled.set()
            if not future.done():
                # The consumer left early: llama.cpp stops at the next token; don't block the event loop on it.
                future.add_done_callback(lambda f: f.exception())
