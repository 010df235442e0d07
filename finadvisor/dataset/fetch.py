"""Polite HTTP fetching of source pages: timeouts, retries with exponential backoff, a per-host rate limit.

Everything time-related (the transport, the clock, ``sleep``) is injectable so tests run offline and instantly
with ``httpx.MockTransport``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from finadvisor.errors import ConfigError, UpstreamError, UpstreamTimeout

USER_AGENT = "finadvisor-dataset/0.1 (+https://github.com/finadvisor; polite crawler)"
RETRY_STATUS = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Page:
    url: str
    text: str
    content_type: str


class Fetcher:
    def __init__(
        self,
        *,
        timeout_s: float = 20.0,
        retries: int = 3,
        backoff_s: float = 1.0,
        min_interval_s: float = 1.0,
        max_bytes: int = 50_000_000,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.retries = retries
        self.backoff_s = backoff_s
        self.min_interval_s = min_interval_s
        self.max_bytes = max_bytes
        self._sleep = sleep
        self._clock = clock
        self._last_request: dict[str, float] = {}
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=True,
            transport=transport,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json, text/html;q=0.9"},
        )
        self.requests_made = 0
        self._retry_after: float | None = None

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wait_turn(self, host: str) -> None:
        last = self._last_request.get(host)
        if last is not None:
            wait = self.min_interval_s - (self._clock() - last)
            if wait > 0:
                self._sleep(wait)
        self._last_request[host] = self._clock()

    def get(self, url: str) -> Page:
        host = urlsplit(url).netloc
        last_problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(self._delay(attempt, last_problem))
            self._wait_turn(host)
            self.requests_made += 1
            try:
                response = self._client.get(url)
            except httpx.TimeoutException:
                last_problem = "timeout"
                continue
            except httpx.TransportError as exc:
                last_problem = f"connection error: {exc}"
                continue
            if response.status_code in RETRY_STATUS:
                last_problem = f"HTTP {response.status_code}"
                self._retry_after = _retry_after(response)
                continue
            if response.status_code >= 400:
                raise ConfigError(
                    f"cannot fetch source {url}: HTTP {response.status_code}; check the URL "
                    "(Next.js data URLs change with every site build: copy a fresh one from the browser)"
                )
            if len(response.content) > self.max_bytes:
                raise ConfigError(
                    f"source {url} is larger than {self.max_bytes} bytes; download it and pass the file"
                )
            return Page(str(response.url), response.text, response.headers.get("content-type", ""))
        message = (
            f"cannot fetch source {url} after {self.retries + 1} attempts ({last_problem}); try again later"
        )
        if last_problem == "timeout":
            raise UpstreamTimeout(message)
        raise UpstreamError(message)

    def _delay(self, attempt: int, problem: str) -> float:
        """Exponential backoff; a server's Retry-After (capped at 60 s) wins when longer."""
        delay = self.backoff_s * 2 ** (attempt - 1)
        if self._retry_after is not None:
            delay = max(delay, min(self._retry_after, 60.0))
            self._retry_after = None
        return delay


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
