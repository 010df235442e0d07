"""Where spending histories come from: the spending HTTP API (the seed's flow), a folder, or the mock API.

    HistoryProvider.fetch(user_token, month) -> SpendingHistory

The HTTP provider's URL comes only from configuration (never from a request: no SSRF); the user's token is
forwarded as the seed did (``Cookie: token=...``) and never logged. The token must match a strict character set
(:data:`TOKEN_CHARS`: base64/JWT characters, no ``;``, ``,``, space, quote or non-ASCII), so a quoted cookie such as
``"abc\073 admin=1"`` cannot smuggle a second cookie into the upstream request. Every failure maps to a clear
error: bad token or token refused -> 401, unreachable/garbage/out-of-range values -> 502, slow -> 504.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Protocol

import httpx
from pydantic import ValidationError

from finadvisor.errors import (
    AuthError,
    ConfigError,
    FinadvisorError,
    NotFound,
    UpstreamError,
    UpstreamTimeout,
)
from finadvisor.history import SpendingHistory

MAX_RESPONSE_BYTES = 1_000_000
MAX_TOKEN_CHARS = 4096
TOKEN_CHARS = re.compile(rf"[A-Za-z0-9._~+/=:%-]{{1,{MAX_TOKEN_CHARS}}}")
_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
_USER = re.compile(r"[A-Za-z0-9_.-]{1,128}")


def check_month(month: str) -> str:
    if not isinstance(month, str) or not _MONTH.fullmatch(month):  # fullmatch: "2024-01\n" is not a month
        raise ValueError("month must look like YYYY-MM")
    return month


def check_token(token: str) -> str:
    """The session token, if it is made only of safe characters; AuthError (401) otherwise."""
    if not TOKEN_CHARS.fullmatch(token):
        raise AuthError("the session cookie is malformed; log in again", code="not_logged_in")
    return token


class HistoryProvider(Protocol):
    name: str

    async def fetch(self, token: str, month: str) -> SpendingHistory: ...
    async def close(self) -> None: ...


def parse_history_payload(payload: object, source: str) -> SpendingHistory:
    """Validate a spending payload that came from a dependency (its fault if wrong: 502, not 422)."""
    data = (
        payload.get("data", payload) if isinstance(payload, dict) and "spending" not in payload else payload
    )
    if not isinstance(data, dict):
        raise UpstreamError(f"{source} returned JSON that is not a spending history object")
    try:
        return SpendingHistory.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise UpstreamError(
            f"{source} returned an invalid spending history ({where}: {first.get('msg')})"
        ) from None


class HttpHistoryProvider:
    name = "http"

    def __init__(
        self,
        url_template: str,
        *,
        timeout_s: float = 10.0,
        cookie_name: str = "token",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not url_template.startswith(("http://", "https://")):
            raise ConfigError(
                "spending_api_url must be an http(s) URL template, e.g. "
                "http://host/v1/pfm/summary/category?filter_month={month}"
            )
        self.url_template = url_template
        self.cookie_name = cookie_name
        self.timeout_s = timeout_s
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            transport=transport,
            follow_redirects=False,
        )

    async def fetch(self, token: str, month: str) -> SpendingHistory:
        url = self.url_template.replace("{month}", check_month(month))
        check_token(token)
        return await get_spending_history(
            self._client,
            url,
            timeout_s=self.timeout_s,
            headers={"Cookie": f"{self.cookie_name}={token}", "Accept": "application/json"},
            refused=AuthError(
                "the spending API did not accept your session; please log in again", code="session_expired"
            ),
        )

    async def close(self) -> None:
        await self._client.aclose()


class FolderHistoryProvider:
    """``<dir>/<user>.json`` files, for demos and offline use. The token is the user id."""

    name = "folder"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise ConfigError(f"history folder {self.folder} does not exist")

    def users(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.json"))

    async def fetch(self, token: str, month: str) -> SpendingHistory:
        if not _USER.fullmatch(token) or token.startswith("."):
            raise NotFound("unknown user")
        path = self.folder / f"{token}.json"
        if not path.is_file():
            raise NotFound("unknown user")
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise UpstreamError(f"history file for this user is unreadable ({type(exc).__name__})") from None
        return parse_history_payload(payload, "the history folder")

    async def close(self) -> None:
        return None


def demo_histories_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "histories"


async def get_spending_history(
    client: httpx.AsyncClient,
    url: str,
    *,
    timeout_s: float,
    headers: dict[str, str] | None = None,
    refused: FinadvisorError | None = None,
) -> SpendingHistory:
    """GET one history from the spending API: one deadline for the whole exchange (slow drips too), a bounded
    body, and every failure mapped to the project's errors (401/403 -> ``refused``, 404, any status but
    200, redirects included -> 502, not JSON -> 502, slow -> 504). Used by the web route (user cookie) and the
    nightly batch (service key). The body is asked for uncompressed and read raw, so the byte cap counts what
    crosses the wire: a compressed answer is refused rather than inflated (a 290 KB gzip bomb is ~85 MB)."""
    try:
        async with asyncio.timeout(timeout_s):
            async with client.stream(
                "GET", url, headers={"Accept-Encoding": "identity", **(headers or {})}
            ) as resp:
                if resp.status_code in (401, 403):
                    raise refused or AuthError(
                        f"the spending API refused the request (HTTP {resp.status_code})"
                    )
                if resp.status_code == 404:
                    raise NotFound("the spending API has no history for this user and month")
                if resp.status_code != 200:  # a GET's answer is a 200; a redirect or a 204 is no history
                    raise UpstreamError(f"the spending API failed (HTTP {resp.status_code}); try again later")
                if resp.headers.get("content-encoding", "identity").strip().lower() not in ("", "identity"):
                    raise UpstreamError(
                        "the spending API sent a compressed response although none was asked for"
                    )
                body = bytearray()
                async for chunk in resp.aiter_bytes():  # identity only (checked above): bytes as sent
                    body += chunk
                    if len(body) > MAX_RESPONSE_BYTES:
                        raise UpstreamError("the spending API returned an oversized response")
    except (TimeoutError, httpx.TimeoutException):
        raise UpstreamTimeout("the spending API did not answer in time; try again later") from None
    except httpx.HTTPError as exc:
        raise UpstreamError(
            f"the spending API is unreachable ({type(exc).__name__}); try again later"
        ) from None
    try:
        payload = json.loads(bytes(body))
    except (
        ValueError,
        RecursionError,
    ):  # JSONDecodeError, UnicodeDecodeError, >4300-digit ints, deep nesting
        raise UpstreamError("the spending API returned a response that is not valid JSON") from None
    return parse_history_payload(payload, "the spending API")
