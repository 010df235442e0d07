"""The engine contract: the one small interface every inference backend implements.

An engine turns a chat request into text, streamed or not, optionally constrained by a JSON schema, and reports
token usage and readiness. Everything HTTP-shaped lives in ``finadvisor.server``; everything model-shaped lives
behind this protocol.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class GenerationRequest:
    messages: list[dict[str, str]]
    max_tokens: int = 256
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    seed: int | None = None
    json_schema: dict[str, Any] | None = None  # constrain output to this schema
    json_object: bool = False  # constrain output to any JSON object
    adapter: str | None = None  # LoRA adapter name, None = base model
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Delta:
    """One streamed step: new text, and on the last step the finish reason and usage."""

    text: str = ""
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass
class Generation:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


@runtime_checkable
class Engine(Protocol):
    """Capability flags plus five methods. Engines register in ``finadvisor.engines.ENGINES``."""

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


async def generate(engine: Engine, request: GenerationRequest) -> Generation:
    """Non-streamed generation, derived from ``stream`` so that engines implement only one path."""
    parts: list[str] = []
    finish, prompt_tokens, completion_tokens = "stop", 0, 0
    async for delta in engine.stream(request):
        parts.append(delta.text)
        if delta.finish_reason is not None:
            finish = delta.finish_reason
        if delta.prompt_tokens is not None:
            prompt_tokens = delta.prompt_tokens
        if delta.completion_tokens is not None:
            completion_tokens = delta.completion_tokens
    return Generation("".join(parts), finish, prompt_tokens, completion_tokens)
