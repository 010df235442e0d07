"""``create_app``: assemble settings, engine, LLM service, metrics and routers into one FastAPI app.

The engine loads in the background, so ``/health`` answers 503 "loading" at once and 200 when the model is ready.
The same app object is served by uvicorn (``finadvisor serve``) and by Ray Serve (``finadvisor deploy ray``).

Middleware, outermost first: :class:`~finadvisor.server.access_log.AccessLog` (one line per request, the
``X-Request-ID``), :class:`~finadvisor.server.auth.ApiKeyAuth` (deny by default when ``api_key`` is
set, so an unauthenticated body is never read), then :class:`~finadvisor.server.limits.BodySizeLimit`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from finadvisor import __version__
from finadvisor.engines import Engine, create_engine, llm_service
from finadvisor.errors import EngineUnavailable, FinadvisorError
from finadvisor.logs import add_secrets
from finadvisor.metrics import Metrics
from finadvisor.server.access_log import AccessLog
from finadvisor.server.auth import ApiKeyAuth
from finadvisor.server.errors import install_error_handlers
from finadvisor.server.limits import BodySizeLimit
from finadvisor.settings import Settings

log = logging.getLogger(__name__)
# Between tries to start an engine that is not available yet (an upstream still coming up): 1 s, 2 s ... 30 s.
START_WAIT = wait_exponential(multiplier=1, min=1, max=30)


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    extra_routers: list[Any] | None = None,
    on_install: list[Callable[[FastAPI], None]] | None = None,
) -> FastAPI:
    """The OpenAI-compatible server. ``extra_routers`` (the advisor's, for example) are mounted as they are;
    each ``on_install`` hook runs once on the new app (to set up its routers' state), and async callables
    appended to ``app.state.on_close`` run at shutdown."""
    settings = settings or Settings()
    add_secrets(settings.api_key, settings.upstream_api_key)
    engine = engine or create_engine(settings)
    metrics = Metrics()
    llm = llm_service(engine, settings, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        def waiting(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            app.state.engine_error = exc.message if isinstance(exc, FinadvisorError) else str(exc)
            log.warning(
                "engine not available yet (%s); retrying in %.0f s",
                app.state.engine_error,
                state.upcoming_sleep,
            )

        async def start() -> None:
            # an upstream that is not up yet (EngineUnavailable): keep trying, 1 s, 2 s ... then every 30 s
            retrying = AsyncRetrying(
                retry=retry_if_exception_type(EngineUnavailable),
                before_sleep=waiting,
                wait=START_WAIT,
                reraise=True,
            )
            try:
                async for attempt in retrying:
                    with attempt:
                        await engine.start()
                app.state.engine_error = None
            except FinadvisorError as exc:
                app.state.engine_error = exc.message
                log.error("engine failed to start: %s", exc.message)
            except Exception as exc:  # keep serving /health with the reason instead of dying silently
                app.state.engine_error = f"{type(exc).__name__}: {exc}"
                log.exception("engine failed to start")

        task = asyncio.create_task(start())
        try:
            yield
        finally:
            task.cancel()
            await engine.close()
            for close in app.state.on_close:  # resources that extra routers opened (the advisor's cache ...)
                await close(app)

    app = FastAPI(
        title="finadvisor",
        version=__version__,
        lifespan=lifespan,
        description="Self-hosted OpenAI-compatible LLM server and financial advisor.",
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.llm = llm
    app.state.engine_error = None
    _embedder_lock = asyncio.Lock()

    async def get_embedder() -> Any:
        async with _embedder_lock:
            if getattr(app.state, "embedder", None) is None:
                from finadvisor.catalog import get_embedder as build

                app.state.embedder = await asyncio.to_thread(
                    build, settings.embedder, url=settings.embedder_url, model=settings.embedder_model
                )
        return app.state.embedder

    app.state.embedder = None
    app.state.get_embedder = get_embedder

    install_error_handlers(app)
    from finadvisor.server import routes_openai, routes_ops

    app.include_router(routes_ops.router)
    app.include_router(routes_openai.router)
    app.state.on_close = []
    app.state.auth_exempt = []  # routers register the routes they authenticate themselves (or that are public)
    for hook in on_install or []:
        hook(app)
    for router in extra_routers or []:
        app.include_router(router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(ApiKeyAuth, api_key=settings.api_key, exemptions=app.state.auth_exempt)
    app.add_middleware(AccessLog)  # outermost: refused requests get their line and their X-Request-ID too
    return app
