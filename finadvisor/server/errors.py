"""Errors at the HTTP boundary: every failure becomes the OpenAI error shape with the right status.

``{"error": {"message", "type", "param", "code"}}``. Validation errors are 400 on ``/v1`` (OpenAI's choice) and
422 on ``/api`` (the advisor's contract). Unexpected exceptions are logged with a traceback and answered with a
generic 500 that leaks nothing.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from finadvisor.errors import FinadvisorError
from finadvisor.protocol import ErrorDetail, ErrorResponse
from finadvisor.protocol import documented as documented  # re-exported: the routers import it from here

log = logging.getLogger(__name__)


def error_response(
    status: int,
    message: str,
    error_type: str,
    *,
    param: str | None = None,
    code: str | None = None,
    retry_after: float | None = None,
) -> JSONResponse:
    body = ErrorResponse(error=ErrorDetail(message=message, type=error_type, param=param, code=code))
    headers = {"Retry-After": str(max(1, int(retry_after)))} if retry_after else None
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def from_exception(exc: FinadvisorError) -> JSONResponse:
    return error_response(
        exc.status_code,
        exc.message,
        exc.error_type,
        param=exc.param,
        code=exc.code,
        retry_after=exc.retry_after,
    )


def _describe(exc: RequestValidationError) -> tuple[str, str | None]:
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    msg = str(first.get("msg", "invalid request"))
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON", None
    return (f"{param}: {msg}" if param else msg), param


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.routes:
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(request.url.path):
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FinadvisorError)
    async def _domain(_: Request, exc: FinadvisorError) -> JSONResponse:
        if exc.status_code >= 500:
            log.warning("request failed: %s: %s", type(exc).__name__, exc.message)
        return from_exception(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = _describe(exc)
        status = 422 if request.url.path.startswith("/api/") else 400
        return error_response(status, message, "invalid_request_error", param=param)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        response = error_response(exc.status_code, str(exc.detail), kind)
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:  # Starlette lists only the first matching route's methods
            response.headers["Allow"] = ", ".join(_allowed_methods(request))
        return response

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=exc)
        return error_response(500, "internal server error", "internal_error")
