"""Inference engines. Built-ins register in ``ENGINES`` exactly as a later one would: name -> factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from finadvisor.engines.base import Delta, Engine, Generation, GenerationRequest, generate
from finadvisor.settings import Settings

if TYPE_CHECKING:
    from finadvisor.engines.service import LLMService
    from finadvisor.metrics import Metrics

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


def llm_service(engine: Engine, settings: Settings, metrics: Metrics) -> LLMService:
    """The LLM gate for these settings: the engine's own slots, the queue bound and the time budget (one place
    for the server, the command-line advisor and the batch)."""
    from finadvisor.engines.service import LLMService

    return LLMService(
        engine,
        metrics,
        model_name=settings.model_name,
        capacity=engine_capacity(engine, settings),
        max_waiting=settings.max_waiting,
        timeout_s=settings.request_timeout_s,
    )


ENGINES: dict[str, EngineFactory] = {
    "llamacpp": _llamacpp,
    "openai": _openai,
    "transformers": _transformers,
    "vllm": _vllm,
    "fake": _fake,
}


def create_engine(settings: Settings) -> Engine:
    return ENGINES[settings.engine](settings)


# What each built-in engine needs, asked here so no other package switches on engine names.
LOCAL_MODEL = frozenset(
    {"llamacpp", "transformers"}
)  # load weights in this process (packaged model by default)
OWN_SERVER = frozenset(
    {"openai", "vllm"}
)  # the model runs in a server process of its own (remote or supervised)


def loads_local_model(settings: Settings) -> bool:
    """The engine loads model weights in this process: resolve (and verify) the model path before serving."""
    return settings.engine in LOCAL_MODEL


def uses_packaged_model(settings: Settings) -> bool:
    """The engine will run the packaged 0.5B model (a local engine with no ``model`` named)."""
    return loads_local_model(settings) and settings.model is None


def loads_gguf_lora(settings: Settings) -> bool:
    """The engine applies GGUF LoRA files (``--lora NAME=adapter.gguf``) by name per request."""
    return settings.engine == "llamacpp"


def runs_in_own_server(settings: Settings) -> bool:
    """The model is served by a process of its own, which a batch's workers can share directly."""
    return settings.engine in OWN_SERVER or bool(settings.upstream_url)


__all__ = [
    "ENGINES",
    "Delta",
    "Engine",
    "Generation",
    "GenerationRequest",
    "create_engine",
    "engine_capacity",
    "generate",
    "loads_local_model",
    "runs_in_own_server",
    "uses_packaged_model",
    "loads_gguf_lora",
]
