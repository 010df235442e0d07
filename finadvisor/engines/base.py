"""The engine contract: the one small interface every inference backend implements.

An engine turns a chat request (or, for ``/v1/completions``, a raw prompt) into text, streamed or not, optionally
constrained by a JSON schema or turned into tool calls, and reports token usage and readiness. Everything
HTTP-shaped lives in ``finadvisor.server``; everything model-shaped lives behind this protocol.

Capabilities are plain attributes on the engine (``slots``, ``supports_json_schema``, ``supports_tools`` ...).
``LLMService`` reads them and refuses, with a 400 naming the parameter, what an engine cannot honour, so that no
request parameter is ever silently dropped. ``CAPABILITIES`` maps each flag to the parameters it covers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class GenerationRequest:
    messages: list[dict[str, Any]]  # OpenAI chat messages (role, content, tool_calls, tool_call_id)
    max_tokens: int = 256
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    seed: int | None = None
    json_schema: dict[str, Any] | None = None  # constrain output to this schema
    json_object: bool = False  # constrain output to any JSON object
    adapter: str | None = None  # LoRA adapter name, None = base model
    tools: list[dict[str, Any]] | None = None  # OpenAI tool objects ({"type": "function", "function": {...}})
    tool_choice: str | dict[str, Any] | None = (
        None  # "auto" | "none" | "required" | {"type": "function", ...}
    )
    parallel_tool_calls: bool | None = None
    logprobs: bool = False
    top_logprobs: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    prompt: str | None = None  # raw text completion (/v1/completions): no chat template, messages unused
    # True for the OpenAI routes: refuse a JSON schema the engine cannot enforce. Internal callers (the advisor)
    # validate the output themselves and may run unconstrained on such an engine.
    strict: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Delta:
    """One streamed step: new text (or tool-call pieces), and on the last step the finish reason and usage.

    ``tool_calls`` holds OpenAI streaming tool-call deltas (``{"index", "id", "type", "function": {"name",
    "arguments"}}``, later pieces of one call carry only ``index`` and more ``arguments``); ``logprobs`` holds
    OpenAI chat logprob entries (``{"token", "logprob", "bytes", "top_logprobs"}``) for this step's tokens.
    """

    text: str = ""
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tool_calls: list[dict[str, Any]] | None = None
    logprobs: list[dict[str, Any]] | None = None


@dataclass
class Generation:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    logprobs: list[dict[str, Any]] | None = None


# Capability flag -> the request parameters it covers (what a 400 names when the flag is False).
CAPABILITIES: dict[str, tuple[str, ...]] = {
    "supports_json_schema": ("response_format",),
    "supports_tools": ("tools", "tool_choice", "parallel_tool_calls"),
    "supports_logprobs": ("logprobs", "top_logprobs"),
    "supports_penalties": ("frequency_penalty", "presence_penalty", "logit_bias"),
    "supports_completions": ("prompt",),
    "supports_lora": ("model",),
}


@runtime_checkable
class Engine(Protocol):
    """Capability flags plus five methods. Engines register in ``finadvisor.engines.ENGINES``.

    Optional flags (read with ``getattr(engine, flag, False)``, so an engine that does not declare one cannot do
    it): ``slots`` (requests decoded at once), ``supports_tools``, ``supports_logprobs``, ``supports_penalties``,
    ``supports_completions``.
    """

    name: str
    supports_json_schema: bool
    supports_lora: bool

    async def start(self) -> None:
        """Load the model / connect. May take long; ``ready()`` is False until it returns."""

    async def close(self) -> None:
        """Release the model, threads and subprocesses."""

    def ready(self) -> bool:
        """True once the engine can serve requests."""

    def adapters(self) -> list[str]:
        """Names of LoRA adapters servable by name (empty when none)."""

    def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        """Yield text deltas; the last delta carries finish_reason and token counts."""


class GenerationBuilder:
    """Folds a stream of deltas into one ``Generation`` (tool-call pieces merged by index): the one drain loop."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.finish, self.prompt_tokens, self.completion_tokens = "stop", 0, 0
        self.calls: dict[int, dict[str, Any]] = {}
        self.logprobs: list[dict[str, Any]] | None = None

    def add(self, delta: Delta) -> None:
        self.parts.append(delta.text)
        if delta.finish_reason is not None:
            self.finish = delta.finish_reason
        if delta.prompt_tokens is not None:
            self.prompt_tokens = delta.prompt_tokens
        if delta.completion_tokens is not None:
            self.completion_tokens = delta.completion_tokens
        if delta.logprobs:
            self.logprobs = (self.logprobs or []) + delta.logprobs
        for piece in delta.tool_calls or []:
            index = int(piece.get("index", 0))
            call = self.calls.setdefault(
                index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
            )
            if piece.get("id"):
                call["id"] = piece["id"]
            fn = piece.get("function") or {}
            if fn.get("name"):
                call["function"]["name"] = fn["name"]
            call["function"]["arguments"] += fn.get("arguments") or ""

    def result(self) -> Generation:
        return Generation(
            "".join(self.parts),
            self.finish,
            self.prompt_tokens,
            self.completion_tokens,
            [self.calls[i] for i in sorted(self.calls)],
            self.logprobs,
        )


async def generate(engine: Engine, request: GenerationRequest) -> Generation:
    """Non-streamed generation, derived from ``stream`` so that engines implement only one path."""
    builder = GenerationBuilder()
    async for delta in engine.stream(request):
        builder.add(delta)
    return builder.result()


SAMPLING_KEYS = (
    "temperature",
    "top_p",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
)
TOOL_KEYS = ("tools", "tool_choice", "parallel_tool_calls")


def openai_body(request: GenerationRequest, *, keys: tuple[str, ...] = SAMPLING_KEYS) -> dict[str, Any]:
    """The streamed OpenAI-style body for a request (chat ``messages`` or a raw ``prompt``), the one place it is
    built: the llama.cpp engine and the upstream engine add only what is theirs (model, grammar, cache_prompt).
    ``keys``: the request fields passed on as they are when set."""
    body: dict[str, Any] = {
        "max_tokens": request.max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if request.prompt is not None:
        body["prompt"] = request.prompt
        if request.logprobs:
            body["logprobs"] = request.top_logprobs or 1  # legacy completions: an int
    else:
        body["messages"] = request.messages
        if request.logprobs:
            body["logprobs"] = True
            if request.top_logprobs:
                body["top_logprobs"] = request.top_logprobs
    for key in keys:
        value = getattr(request, key)
        if value is not None and value != []:
            body[key] = value
    return body
