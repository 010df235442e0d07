"""API-key auth, deny by default: with ``api_key`` set, every route needs ``Authorization: Bearer <key>``.

A pure-ASGI middleware (:class:`ApiKeyAuth`) guards every path, so a route added later is protected without
anyone remembering to add a dependency. The only open paths are ``/health`` (load balancers; it shows no detail
without the key) and whatever a router registers in ``app.state.auth_exempt`` (the advisor's cookie-authenticated
``GET /api/recommendations``, and its page and demo routes when ``public_demo`` is set). The comparison is
constant-time and the key never appears in logs or errors. Each request's scope records whether the caller is
an operator (``scope["state"]["operator"]``), for ``/health`` detail and ``Cache-Control: no-cache``.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

# Who is calling (shared with the advisor's routes, which must not depend on the server package):
from finadvisor.callers import bearer_token, key_matches
from finadvisor.errors import AuthError, ConfigError
from finadvisor.logs import request_secret

# (method, path) -> True when the route may be called without the API key.
AuthExemption = Callable[[str, str], bool]
ALWAYS_OPEN = frozenset({"/health"})
AUTH_MESSAGE = "missing or invalid API key; send 'Authorization: Bearer <key>'"


KEY_PLACEHOLDER = "REPLACE-ME"  # the example config's api_key: refused until someone replaces it


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name or 0.0.0.0/::: reachable from elsewhere


def exposure_warning(host: str, api_key: str | None) -> str | None:
    """A warning when a server would listen beyond this machine with no key (every route open: /v1, /docs,
    /metrics, the advisor); a ConfigError when the key is still the example config's placeholder."""
    if api_key and api_key.startswith(KEY_PLACEHOLDER):
        raise ConfigError(
            f"the API key is still the placeholder {api_key!r}; set a long random key (or remove it "
            "and set FINADVISOR_API_KEY)",
            param="api_key",
        )
    if api_key or is_loopback(host):
        return None
    return (
        f"listening on {host} with no API key: anyone who can reach it may use /v1, /docs, /metrics and the "
        "advisor. Set FINADVISOR_API_KEY (or --api-key), or bind 127.0.0.1"
    )


def require_api_key(request: Request) -> None:
    """Dependency form of the check (the ``/v1`` router keeps it as a second line of defence)."""
    expected: str | None = request.app.state.settings.api_key
    if expected and not key_matches(bearer_token(request.headers), expected):
        raise AuthError(AUTH_MESSAGE, code="invalid_api_key")


def _register_cookie_values(headers: list[tuple[bytes, bytes]]) -> None:
    """Every cookie value of the request is a potential session token: keep it out of this request's logs."""
    for name, value in headers:
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                _, _, cookie = part.partition("=")
                cookie = cookie.strip().strip('"')
                if len(cookie) >= 8:
                    request_secret(cookie)


class ApiKeyAuth:
    """Refuses every request without the key, except ``/health`` and the app's registered exemptions."""

    def __init__(self, app: ASGIApp, api_key: str | None, exemptions: list[AuthExemption]) -> None:
        self.app = app
        self.api_key = api_key
        self.exemptions = exemptions  # the app's list, read on every request (routers append at install)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers", [])
        token = bearer_token(headers)
        request_secret(token)
        _register_cookie_values(headers)
        operator = not self.api_key or key_matches(token, self.api_key)
        scope.setdefault("state", {})["operator"] = operator
        path, method = scope.get("path", ""), scope.get("method", "GET")
        if operator or path in ALWAYS_OPEN or any(rule(method, path) for rule in self.exemptions):
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {
                "error": {
                    "message": AUTH_MESSAGE,
                    "type": "authentication_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b"Bearer"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
