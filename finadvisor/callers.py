"""Who is calling: the operator (the API key) or anyone else, and from which address.

    client_id(request)                      # "operator" | "anonymous": rate-limit identity
    client_ip(request, "X-Forwarded-For")   # the trusted proxy's last entry, else the peer

Shared vocabulary of the HTTP layer: the server's API-key middleware (``server/auth.py``) and the advisor's
routes both read it, so the advisor does not depend on the server package (no package cycle).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping

from fastapi import Request


def bearer_token(headers: Mapping[str, str] | list[tuple[bytes, bytes]]) -> str | None:
    """The bearer token of a request (None without one). Accepts Starlette headers or raw ASGI headers."""
    if isinstance(headers, list):
        raw = next((v for k, v in headers if k == b"authorization"), b"")
        header = raw.decode("latin-1")
    else:
        header = headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def key_matches(token: str | None, expected: str) -> bool:
    return token is not None and hmac.compare_digest(token.encode("utf-8", "replace"), expected.encode())


def is_operator(request: Request) -> bool:
    """True when the caller presented the API key (or no key is configured: a local, single-user server)."""
    expected: str | None = request.app.state.settings.api_key
    if not expected:
        return True
    return bool(request.scope.get("state", {}).get("operator")) or key_matches(
        bearer_token(request.headers), expected
    )


def client_id(request: Request) -> str:
    """Who the caller is, for rate limits: ``operator`` when a key is configured and the caller presented it,
    else ``anonymous``. An unverified bearer token is not an identity: keyed on it, a new junk token per request
    would buy a new bucket (issue 25), so everyone but the operator is told apart by client IP alone."""
    expected: str | None = request.app.state.settings.api_key
    return "operator" if expected and is_operator(request) else "anonymous"


def forwarded_for(values: list[str]) -> str | None:
    """The last entry of a forwarding header across *all* its lines (a proxy may add a line of its own instead
    of appending to the client's): the one the trusted proxy wrote. None when that entry is not an IP address;
    an earlier entry is the client's own word and is never used instead."""
    entries = ",".join(values).split(",")
    candidate = entries[-1].strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def client_ip(request: Request, trusted_header: str | None) -> str:
    """The client's address: the last entry of the trusted proxy's header (the one that proxy added), when that
    header is configured and holds an IP address; otherwise the connection's peer."""
    if trusted_header and (values := request.headers.getlist(trusted_header)):
        address = forwarded_for(values)
        if address is not None:
            return address
    return request.client.host if request.client else "unknown"
