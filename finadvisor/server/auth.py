"""API-key check for ``/v1/*`` (constant-time comparison; the key never appears in logs or errors)."""

from __future__ import annotations

import hmac

from fastapi import Request

from finadvisor.errors import AuthError


def require_api_key(request: Request) -> None:
    expected: str | None = request.app.state.settings.api_key
    if not expected:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise AuthError("missing or invalid API key; send 'Authorization: Bearer <key>'",
                        code="invalid_api_key")
