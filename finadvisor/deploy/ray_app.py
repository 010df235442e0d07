"""Ray Serve deployment of the very same FastAPI app that ``finadvisor serve`` runs (no second implementation).

    finadvisor deploy ray --replicas 2                # or: serve run finadvisor/deploy/serve_config.yaml

Two shapes, chosen by ``upstream_url``:
- upstream (production): N ``advisor`` replicas, each talking to vLLM (or any OpenAI server) over HTTP;
- embedded: N ``advisor`` replicas sharing one ``llm`` deployment that holds the llama.cpp engine; replicas call
  it through a Ray ``DeploymentHandle`` with streaming (``RayHandleEngine``), so the model is loaded once.
Every response carries ``X-Served-By: <replica id>`` so load spreading is observable.

In the embedded shape, admission is bounded at the shared engine, not per replica: ``LLMDeployment`` runs at most
``engine_capacity`` generations at once and lets ``max_waiting`` wait; beyond that a request is refused with 503
(each replica's own gate would otherwise admit N x the engine's slots). A request that times out or is abandoned
on a replica cancels its remote generation (``DeploymentResponseGenerator.cancel``), so the engine stops decoding
for nobody. Errors cross the Ray boundary as data (``{"__error__": ...}``), not pickled exceptions, so their
status and ``Retry-After`` survive. Replicas put log redaction on Ray's handlers (they never call
``configure_logging``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from typing import Any

from ray import serve

from finadvisor import errors
from finadvisor.engines.base import Delta, GenerationRequest
from finadvisor.logs import add_secrets, install_redaction
from finadvisor.settings import Settings

DEFAULT_APP_NAME = "finadvisor"


CAPABILITY_FLAGS = (
    "supports_json_schema",
    "supports_lora",
    "supports_tools",
    "supports_logprobs",
    "supports_penalties",
    "supports_completions",
)


def _error_item(exc: errors.FinadvisorError) -> dict[str, Any]:
    return {
        "__error__": {
            "type": type(exc).__name__,
            "message": exc.message,
            "param": exc.param,
            "code": exc.code,
            "retry_after": exc.retry_after,
        }
    }


def _raise_error_item(item: dict[str, Any]) -> None:
    spec = item["__error__"]
    cls = getattr(errors, str(spec.get("type")), None)
    if not (isinstance(cls, type) and issubclass(cls, errors.FinadvisorError)):
        cls = errors.EngineUnavailable
    raise cls(
        str(spec.get("message")),
        param=spec.get("param"),
        code=spec.get("code"),
        retry_after=spec.get("retry_after"),
    )


class SharedEngine:
    """One engine behind a bounded admission gate: ``capacity`` decode at once, ``max_waiting`` wait, the rest
    get a 503 at once. Plain Python (no Ray), so it is testable on its own; ``LLMDeployment`` wraps it."""

    def __init__(self, settings: Settings, engine: Any = None) -> None:
        from finadvisor.engines import create_engine, engine_capacity

        self.settings = settings
        self.engine = engine or create_engine(settings)
        self.capacity = engine_capacity(self.engine, settings)
        self.max_waiting = settings.max_waiting
        self._slots = asyncio.Semaphore(self.capacity)
        self._waiting = 0
        self.running = 0
        self._started = asyncio.Lock()
        add_secrets(settings.api_key, settings.upstream_api_key)

    async def ready(self) -> list[str]:
        async with self._started:
            if not self.engine.ready():
                await self.engine.start()
        return self.engine.adapters()

    async def info(self) -> dict[str, Any]:
        adapters = await self.ready()
        return {
            "adapters": adapters,
            "slots": self.capacity,
            "flags": {flag: bool(getattr(self.engine, flag, False)) for flag in CAPABILITY_FLAGS},
        }

    async def stream(self, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        try:
            await self.ready()
        except errors.FinadvisorError as exc:
            yield _error_item(errors.EngineUnavailable(f"the engine is not available: {exc.message}"))
            return
        if self._slots.locked() and self._waiting >= self.max_waiting:
            yield _error_item(
                errors.Overloaded(
                    f"the shared engine is busy ({self.running} running, {self._waiting} waiting); try again shortly",
                    retry_after=2.0,
                )
            )
            return
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        self.running += 1
        try:
            async for delta in self.engine.stream(GenerationRequest(**request)):
                yield asdict(delta)
        except errors.FinadvisorError as exc:
            yield _error_item(exc)
        finally:  # also on cancellation: the caller gave up, the slot is free again
            self.running -= 1
            self._slots.release()

    async def close(self) -> None:
        await self.engine.close()


@serve.deployment(name="llm", num_replicas=1, max_ongoing_requests=256)
class LLMDeployment:
    """Holds one engine (behind :class:`SharedEngine`'s gate); streams deltas to whichever replica asks."""

    def __init__(self, settings: dict[str, Any]) -> None:
        install_redaction()
        self.shared = SharedEngine(Settings(**settings))

    async def ready(self) -> list[str]:
        return await self.shared.ready()

    async def info(self) -> dict[str, Any]:
        return await self.shared.info()

    async def stream(self, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        async for item in self.shared.stream(request):
            yield item

    async def check_health(self) -> None:
        if self.shared._started.locked():
            return  # still loading: not unhealthy
        if not self.shared.engine.ready():
            await self.shared.ready()


class RayHandleEngine:
    """The Engine protocol over a Ray ``DeploymentHandle`` to ``LLMDeployment``."""

    name = "ray"
    supports_json_schema = True
    supports_lora = True

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self._adapters: list[str] = []
        self._ready = False
        self.slots: int | None = None

    async def start(self) -> None:
        info = await self.handle.info.remote()
        self._adapters = list(info["adapters"])
        for flag, value in info.get("flags", {}).items():
            setattr(self, flag, bool(value))
        self.slots = info.get("slots")
        self._ready = True

    async def close(self) -> None:
        self._ready = False

    def ready(self) -> bool:
        return self._ready

    def adapters(self) -> list[str]:
        return list(self._adapters)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        response = self.handle.options(stream=True).stream.remote(asdict(request))
        finished = False
        try:
            async for item in response:
                if "__error__" in item:
                    finished = True
                    _raise_error_item(item)
                yield Delta(**item)
            finished = True
        finally:
            if not finished:  # timed out, client gone, consumer stopped early: stop the remote decoding too
                response.cancel()


def _asgi_builder(settings: dict[str, Any], app_name: str, embedded: bool) -> Callable[[], Any]:
    def build() -> Any:
        from finadvisor.app import create_app

        engine = None
        if embedded:
            engine = RayHandleEngine(serve.get_deployment_handle("llm", app_name=app_name))
        app = create_app(Settings(**settings), engine=engine)
        install_redaction()  # Ray's replica loggers have their own handlers; our root one never sees them
        replica = serve.get_replica_context().replica_id.unique_id

        @app.middleware("http")
        async def served_by(request: Any, call_next: Any) -> Any:
            response = await call_next(request)
            response.headers["X-Served-By"] = replica
            return response

        return app

    return build


class AdvisorIngress:
    """The class ``serve.ingress`` wraps with the FastAPI app built on each replica.

    It takes the bound ``llm`` deployment only so that Ray deploys it as part of the application; the app reaches
    it by name through ``serve.get_deployment_handle``.
    """

    def __init__(self, llm: Any = None) -> None:
        self.llm = llm


def _check_exposure(settings: dict[str, Any]) -> None:
    """The Serve proxy listens on every node's address (serve_config.yaml binds 0.0.0.0): refuse the example's
    key placeholder and warn when no key is set in the settings or the environment."""
    import os

    from finadvisor.server.auth import exposure_warning

    key = settings.get("api_key") or os.environ.get("FINADVISOR_API_KEY")
    if (warning := exposure_warning("0.0.0.0", key)) is not None:
        logging.getLogger("finadvisor.deploy").warning("%s", warning)


def build_app(args: dict[str, Any]) -> serve.Application:
    """Application builder for ``serve run`` / serve_config.yaml (``import_path: finadvisor.deploy.ray_app:build_app``).

    args: replicas (int) or autoscaling (dict), settings (dict of Settings fields), app_name, llm_num_cpus.
    """
    settings = dict(args.get("settings", {}))
    _check_exposure(settings)
    app_name = str(args.get("app_name", DEFAULT_APP_NAME))
    embedded = not settings.get("upstream_url") and settings.get("engine", "llamacpp") not in (
        "openai",
        "vllm",
    )
    options: dict[str, Any] = {
        "name": "advisor",
        "max_ongoing_requests": int(args.get("max_ongoing_requests", 64)),
        "ray_actor_options": {"num_cpus": float(args.get("replica_num_cpus", 0.1))},
    }
    if args.get("autoscaling"):
        options["autoscaling_config"] = dict(args["autoscaling"])
    else:
        options["num_replicas"] = int(args.get("replicas", 2))
    ingress_settings = dict(settings)
    if not embedded:
        ingress_settings.setdefault("engine", "openai")
    ingress = serve.deployment(**options)(
        serve.ingress(_asgi_builder(ingress_settings, app_name, embedded))(AdvisorIngress)
    )
    if embedded:
        llm = LLMDeployment.options(ray_actor_options={"num_cpus": float(args.get("llm_num_cpus", 1))})  # type: ignore[attr-defined]
        return ingress.bind(llm.bind(settings))
    return ingress.bind()
