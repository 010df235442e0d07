"""Advisor HTTP routes (thin): ``POST/GET /api/recommendations``, demo users, and the web page at ``/``.

The advisor itself (embedder, catalog index, cache) is built on first use in a worker thread, so server start-up
stays fast and ``/health`` reflects only the LLM.

Who may call what, with ``api_key`` set (the server's auth middleware denies by default):
- ``GET /api/recommendations``: the end user, authenticated by the session cookie (checked by the spending API);
  exempt from the key. Limited per token hash and per client IP before any spending-API call. With a history
  folder instead of a spending API the cookie is a bare user id, so there the GET needs the key.
- ``POST /api/recommendations``, the page and the demo routes: the key, unless ``public_demo`` is set.
- demo routes exist only in demo mode (:func:`demo_enabled`); otherwise they answer 404.
- ``Cache-Control: no-cache`` is honoured for operators, and for others only ``cache_bypass_per_min`` times a
  minute (beyond that it is ignored and the cache answers).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, field_validator

from finadvisor.advisor.build import build_advisor
from finadvisor.advisor.contract import AdvisorResponse
from finadvisor.advisor.providers import (
    FolderHistoryProvider,
    HistoryProvider,
    HttpHistoryProvider,
    check_month,
    check_token,
    demo_histories_dir,
)
from finadvisor.advisor.ratelimit import RateLimiter, user_key
from finadvisor.advisor.service import AdviceResult, Advisor
from finadvisor.callers import client_id, client_ip, is_operator
from finadvisor.errors import AuthError, InvalidRequest, NotConfigured, NotFound
from finadvisor.history import SpendingHistory
from finadvisor.logs import request_secret
from finadvisor.protocol import documented
from finadvisor.settings import Settings

STATIC = Path(__file__).resolve().parent / "static"
LOGIN_HINT = """<!doctype html><html lang="vi"><meta charset="utf-8"><title>Đăng nhập</title>
<body><p>Chưa có thông tin của bạn. Vui lòng đăng nhập vào ứng dụng trước, rồi tải lại trang này.</p>
<p>There is no information about you yet: please log in first, then refresh this page.</p></body></html>"""


class RecommendationRequest(BaseModel):
    history: SpendingHistory
    now: datetime | None = None

    @field_validator("now", mode="before")
    @classmethod
    def _iso_only(cls, v: Any) -> Any:
        """ISO 8601 text only, as the schema says: lax mode would also take a number as a Unix time."""
        if v is not None and not isinstance(v, str | datetime):
            raise ValueError("now must be an ISO 8601 date-time string")
        return v


router = APIRouter(prefix="/api", responses=documented(400, 401, 404, 413, 422, 429, 500, 502, 503, 504))


async def app_advisor(app: FastAPI) -> Advisor:
    """The app's advisor, built once on first use (embedder, index and cache off the event loop)."""
    state = app.state
    async with state.advisor_lock:
        if state.advisor is None:
            state.advisor = await build_advisor(
                state.settings, state.llm, metrics=state.metrics, embedder=await state.get_embedder()
            )
    return state.advisor


def _provider(app: FastAPI) -> HistoryProvider:
    state = app.state
    if state.history_provider is None:
        settings: Settings = state.settings
        if settings.spending_api_url:
            state.history_provider = HttpHistoryProvider(
                settings.spending_api_url, timeout_s=settings.spending_api_timeout_s
            )
        elif settings.history_dir:
            state.history_provider = FolderHistoryProvider(settings.history_dir)
        else:
            raise NotConfigured(
                "no spending source is configured; set FINADVISOR_SPENDING_API_URL "
                "(or --spending-api-url) or FINADVISOR_HISTORY_DIR"
            )
    return state.history_provider


def _respond(result: AdviceResult, debug: dict[str, Any] | None = None) -> JSONResponse:
    body = result.response.model_dump()
    if debug is not None:
        body["debug"] = debug
    return JSONResponse(body, headers={"X-Cache": result.cache, "Cache-Control": "private, no-store"})


async def _bypass(request: Request, who: str) -> bool:
    """Honour ``Cache-Control: no-cache`` for operators (API key); for anyone else only a few times a minute,
    counted per client IP (``who``), never per token, which the caller chooses."""
    if "no-cache" not in request.headers.get("cache-control", "").lower():
        return False
    if request.app.state.settings.api_key and is_operator(request):  # no key configured: nobody is trusted
        return True
    settings: Settings = request.app.state.settings
    limiter: RateLimiter = request.app.state.rate_limiter
    return await limiter.allow("bypass:" + who, settings.cache_bypass_per_min)


ADVICE_DOC: dict[str, Any] = {
    "response_model": AdvisorResponse,
    "response_description": "2-3 catalog services with a Vietnamese reason each, the computed summary and the "
    "user's own figures behind each service (`evidence`). Header `X-Cache`: hit, miss or "
    "bypass.",
}


@router.post("/recommendations", summary="Advice for a spending history sent in the body", **ADVICE_DOC)
async def recommend(
    body: RecommendationRequest,
    request: Request,
    explain: bool = Query(
        False,
        description="Operators only (the API key): add a `debug` field "
        "showing how each line was read and every candidate's score.",
    ),
) -> JSONResponse:
    app = request.app
    settings: Settings = app.state.settings
    if explain and not is_operator(request):
        raise AuthError("explain=true is for the operator: send the API key as a bearer token")
    ip = client_ip(request, settings.client_ip_header)
    await app.state.rate_limiter.check(f"post:{client_id(request)}:{ip}")
    advisor = await app_advisor(app)
    result = await advisor.recommend(
        body.history, body.now, bypass_cache=await _bypass(request, f"{client_id(request)}:{ip}")
    )
    if not explain:
        return _respond(result)
    debug = await asyncio.to_thread(advisor.ranker.explain, body.history)
    return _respond(result, debug=debug)


@router.get(
    "/recommendations",
    summary="Advice for the logged-in user (session cookie; the spending API is asked for the month)",
    **ADVICE_DOC,
)
async def recommend_for_user(
    request: Request,
    month: str | None = Query(None, description="YYYY-MM; default: this month", max_length=7),
) -> JSONResponse | HTMLResponse:
    app = request.app
    settings: Settings = app.state.settings
    token = request.cookies.get(settings.token_cookie, "").strip()
    request_secret(token)
    if not token:
        if "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(LOGIN_HINT, status_code=401)
        raise AuthError(
            f"no session: log in first (cookie '{settings.token_cookie}' is missing)", code="not_logged_in"
        )
    check_token(token)
    now = datetime.now()
    try:
        month = check_month(month or now.strftime("%Y-%m"))
    except ValueError as exc:
        raise InvalidRequest(str(exc), param="month") from None
    limiter: RateLimiter = app.state.rate_limiter
    ip = client_ip(request, settings.client_ip_header)
    await limiter.check("ip:" + ip, settings.rate_limit_per_ip_per_min)
    await limiter.check("user:" + user_key(token))
    history = await _provider(app).fetch(token, month)
    advisor = await app_advisor(app)
    return _respond(
        await advisor.recommend(
            history, now, bypass_cache=await _bypass(request, f"{client_id(request)}:{ip}")
        )
    )


def _demo_folder(settings: Settings) -> Path:
    return settings.history_dir or demo_histories_dir()


def demo_enabled(settings: Settings) -> bool:
    """Demo mode: explicit ``demo_mode``, or (unset) only a local run on the packaged fictional users: no API
    key, no spending API and no history folder of real users configured."""
    if settings.demo_mode is not None:
        return settings.demo_mode
    return not (settings.api_key or settings.spending_api_url or settings.history_dir)


def _require_demo(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    if not demo_enabled(settings):
        raise NotFound("demo routes are off; set FINADVISOR_DEMO_MODE=true to turn them on")
    return settings


@router.get("/demo-users")
async def demo_users(request: Request) -> JSONResponse:
    folder = _demo_folder(_require_demo(request))
    return JSONResponse({"users": sorted(p.stem for p in folder.glob("*.json"))})


@router.get("/demo-users/{user}")
async def demo_user_history(user: str, request: Request) -> JSONResponse:
    provider = FolderHistoryProvider(_demo_folder(_require_demo(request)))
    try:
        history = await provider.fetch(user, datetime.now().strftime("%Y-%m"))
    except NotFound:
        raise NotFound(f"no demo user named {user[:64]!r}") from None
    return JSONResponse(history.model_dump())


page = APIRouter()


def _page_headers(html: str) -> dict[str, str]:
    """The page's security headers. Its one inline script is allowed by its sha256 (no 'unsafe-inline' for
    scripts), so an injected ``<script>`` would not run even if escaping ever failed; no framing
    (clickjacking), no MIME sniffing, no referrer, and fetches to this origin only."""
    start = html.index("<script>") + len("<script>")
    script = html[start : html.index("</script>", start)]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = (
        "default-src 'none'; "
        f"script-src 'sha256-{digest}'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": csp,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


@page.get("/", include_in_schema=False)
async def index_page() -> Response:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    return Response(html, media_type="text/html; charset=utf-8", headers=_page_headers(html))


def cookie_is_a_secret(settings: Settings) -> bool:
    """True when the GET's cookie is a session token the spending API checks. With a history folder as the
    source, the cookie is the user id itself (anyone can type one): that GET needs the key like any route."""
    return bool(settings.spending_api_url) or not settings.history_dir


def _exemptions(settings: Settings) -> list[Callable[[str, str], bool]]:
    """Routes open without the API key: the cookie-authenticated GET (spending API only); with
    ``public_demo``, the page, the demo routes and POST (rate limits still apply)."""
    rules: list[Callable[[str, str], bool]] = []
    if cookie_is_a_secret(settings):
        rules.append(lambda method, path: path == "/api/recommendations" and method in ("GET", "HEAD"))
    if settings.public_demo:
        rules.append(
            lambda method, path: (
                path == "/"
                or path.startswith("/api/demo-users")
                or (path == "/api/recommendations" and method == "POST")
            )
        )
    return rules


def install(app: FastAPI) -> None:
    """Per-app advisor state; ``finadvisor.app.create_app`` calls it when it adds :data:`routers`."""
    settings: Settings = app.state.settings
    app.state.advisor = None
    app.state.advisor_lock = asyncio.Lock()
    app.state.history_provider = None
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_min, cache_url=settings.cache_url)
    app.state.auth_exempt.extend(_exemptions(settings))
    app.state.on_close.append(_close)


async def _close(app: FastAPI) -> None:
    for resource in (app.state.advisor, app.state.history_provider, app.state.rate_limiter):
        if resource is not None:
            await resource.close()
    # A closed provider/advisor must not be reused if the app is started again (tests, embedded servers).
    app.state.advisor = app.state.history_provider = None


routers = [router, page]
