"""Inference engines. Built-ins register in ``ENGINES`` exactly as a later one would: name -> factory."""

from __future__ import annotations

from collections.abc import Callable

from finadvisor.engines.base import Delta, Engine, Generation, GenerationRequest, generate
from finadvisor.settings import Settings

EngineFactory = Callable[[Settings], Engine]


def _llamacpp(settings: Settings) -> Engine:
    from finadvisor.engines.llamacpp import LlamaCppEngine
    return LlamaCppEngine.from_settings(settings)


def _openai(settings: Settings) -> Engine:
    from finadvisor.engines.openai_upstream import OpenAIUpstreamEngine
    return OpenAIUpstreamEngine.from_settings(settings)


def _transformers(settings: Settings) -> Engine:
    from finadvisor.engines.transformers import TransformersEngine
    return TransformersEngine.from_settings(settings)


def _vllm(settings: Settings) -> Engine:
    from finadvisor.engines.vllm import VLLMEngine
    return VLLMEngine.from_settings(settings)


def _fake(settings: Settings) -> Engine:
    from finadvisor.engines.fake import FakeEngine
    return FakeEngine(adapters=[spec.split("=", 1)[0] for spec in settings.lora], slots=settings.n_parallel)


def engine_capacity(engine: Engine, settings: Settings) -> int:
    """How many requests the engine decodes at once: its own ``slots`` (the LLM gate's concurrency).

    An engine that does not say (an external one written before ``slots`` existed) gets ``--n-parallel``.
    """
    slots = getattr(engine, "slots", None)
    if isinstance(slots, int) and not isinstance(slots, bool) and slots > 0:
        return slots
    return settings.n_parallel


ENGINES: dict[str, EngineFactory] = {
    "llamacpp": _llamacpp,
    "openai": _openai,
    "transformers": _transformers,
    "vllm": _vllm,
    "fake": _fake,
}


def create_engine(settings: Settings) -> Engine:
    return ENGINES[settings.engine](settings)


__all__ = ["ENGINES", "Delta", "Engine", "Generation", "GenerationRequest", "create_engine", "engine_capacity",
           "generate"]
