"""Ray Serve deployment of the very same FastAPI app that ``finadvisor serve`` runs (no second implementation).

    finadvisor deploy ray --replicas 2                # or: serve run finadvisor/deploy/serve_config.yaml

Two shapes, chosen by ``upstream_url``:
- upstream (production): N ``advisor`` replicas, each talking to vLLM (or any OpenAI server) over HTTP;
- embedded: N ``advisor`` replicas sharing one ``llm`` deployment that holds the llama.cpp engine; replicas call
  it through a Ray ``DeploymentHandle`` with streaming (``RayHandleEngine``), so the model is loaded once.
Every response carries ``X-Served-By: <replica id>`` so load spreading is observable.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from typing import Any

from ray import serve

from finadvisor.engines.base import Delta, GenerationRequest
from finadvisor.settings import Settings

DEFAULT_APP_NAME = "finadvisor"


@serve.deployment(name="llm", num_replicas=1, max_ongoing_requests=64)
class LLMDeployment:
    """Holds one engine; streams deltas to whichever advisor replica asks."""

    def __init__(self, settings: dict[str, Any]) -> None:
        from finadvisor.engines import create_engine

        self.engine = create_engine(Settings(**settings))
        self._started = asyncio.Lock()

    async def ready(self) -> list[str]:
        async with self._started:
            if not self.engine.ready():
                await self.engine.start()
        return self.engine.adapters()

    async def stream(self, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        await self.ready()
        async for delta in self.engine.stream(GenerationRequest(**request)):
            yield asdict(delta)

    async def check_health(self) -> None:
        if self._started.locked():
            return  # still loading: not unhealthy
        if not self.engine.ready():
            await self.ready()


class RayHandleEngine:
    """The Engine protocol over a Ray ``DeploymentHandle`` to ``LLMDeployment``."""

    name = "ray"
    supports_json_schema = True
    supports_lora = True

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self._adapters: list[str] = []
        self._ready = False

    async def start(self) -> None:
        self._adapters = await self.handle.ready.remote()
        self._ready = True

    async def close(self) -> None:
        self._ready = False

    def ready(self) -> bool:
        return self._ready

    def adapters(self) -> list[str]:
        return list(self._adapters)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        async for item in self.handle.options(stream=True).stream.remote(asdict(request)):
            yield Delta(**item)


def _asgi_builder(settings: dict[str, Any], app_name: str, embedded: bool) -> Callable[[], Any]:
    def build() -> Any:
        from finadvisor.app import create_app

        engine = None
        if embedded:
            engine = RayHandleEngine(serve.get_deployment_handle("llm", app_name=app_name))
        app = create_app(Settings(**settings), engine=engine)
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


def build_app(args: dict[str, Any]) -> serve.Application:
    """Application builder for ``serve run`` / serve_config.yaml (``import_path: finadvisor.deploy.ray_app:build_app``).

    args: replicas (int) or autoscaling (dict), settings (dict of Settings fields), app_name, llm_num_cpus.
    """
    settings = dict(args.get("settings", {}))
    app_name = str(args.get("app_name", DEFAULT_APP_NAME))
    embedded = not settings.get("upstream_url") and settings.get("engine", "llamacpp") not in ("openai", "vllm")
    options: dict[str, Any] = {"name": "advisor", "max_ongoing_requests": int(args.get("max_ongoing_requests", 64)),
                               "ray_actor_options": {"num_cpus": float(args.get("replica_num_cpus", 0.1))}}
    if args.get("autoscaling"):
        options["autoscaling_config"] = dict(args["autoscaling"])
    else:
        options["num_replicas"] = int(args.get("replicas", 2))
    ingress_settings = dict(settings)
    if not embedded:
        ingress_settings.setdefault("engine", "openai")
    ingress = serve.deployment(**options)(serve.ingress(_asgi_builder(ingress_settings, app_name, embedded))(
        AdvisorIngress))
    if embedded:
        llm = LLMDeployment.options(ray_actor_options={"num_cpus": float(args.get("llm_num_cpus", 1))})  # type: ignore[attr-defined]
        return ingress.bind(llm.bind(settings))
    return ingress.bind()
