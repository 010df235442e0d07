"""Operational routes: ``/health`` (503 while loading, 200 when ready) and Prometheus ``/metrics``.

``/health`` is open for load balancers, so it says only ``ok``/``loading``/``error``: the engine's start-up error
can carry an upstream URL with credentials, a model path or a vLLM log tail, and goes to the (redacted) server log
instead. An operator (API key) also sees the model name. ``/metrics`` needs the key (the auth middleware).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from finadvisor.callers import is_operator

router = APIRouter()


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    state = request.app.state
    operator = is_operator(request)
    if state.llm.engine.ready():
        return JSONResponse({"status": "ok", "model": state.llm.model_name} if operator else {"status": "ok"})
    if state.engine_error:
        return JSONResponse(
            {"status": "error", "detail": "the engine failed to start; see the server log"}, status_code=503
        )
    return JSONResponse({"status": "loading"}, status_code=503, headers={"Retry-After": "5"})


# HEAD for load balancers that probe without a body (kept out of the schema: one operation per path)
router.add_api_route("/health", health, methods=["HEAD"], include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
