"""Per-user rate limits on the advisor routes, shared by every replica when a Redis cache is configured.

Built on the maintained ``limits`` library (moving window). Storage follows ``cache_url``: in memory for
``memory``, the same Redis for ``redis://…``, so N replicas (Ray, Kubernetes) enforce one limit, not N of them.
Keys are hashes, never raw tokens:

    GET  /api/recommendations   user:<sha256(token)>  and  ip:<client ip>   (a rotated cookie is still one IP)
    POST /api/recommendations   post:<operator|anonymous>:<client ip>
    Cache-Control: no-cache     bypass:<operator|anonymous>:<client ip>   (callers without the key)

A bearer token is never part of a key unless it is the configured key: a junk token per request must not buy a
fresh bucket.

The client IP is the connection's peer, or the last entry of ``client_ip_header`` set by a trusted proxy.
``rate_limit_per_min = 0`` turns limiting off. Redis trouble never fails a request: the limiter lets requests
through, warns at most every 30 s, and limits again when Redis is back (as the cache does).
"""

from __future__ import annotations

import hashlib
import logging
import time

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from finadvisor.errors import RateLimited

log = logging.getLogger(__name__)
_WARN_EVERY_S = 30.0


def user_key(secret_or_id: str) -> str:
    return hashlib.sha256(secret_or_id.encode("utf-8", "replace")).hexdigest()[:32]


def storage_for(cache_url: str) -> Storage:
    if cache_url.startswith(("redis://", "rediss://")):
        return RedisStorage(
            "async+" + cache_url,
            implementation="redispy",
            wrap_exceptions=True,
            key_prefix="finadvisor-rl",
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
        )
    return MemoryStorage()


class RateLimiter:
    def __init__(self, per_minute: int, *, storage: Storage | None = None, cache_url: str = "memory") -> None:
        self.per_minute = per_minute
        self.enabled = per_minute > 0
        self.storage = storage or storage_for(cache_url)
        self._limiter = MovingWindowRateLimiter(self.storage)
        self._last_warning = 0.0

    async def check(
        self, key: str, per_minute: int | None = None, *, what: str = "recommendation requests"
    ) -> None:
        """Count one request against ``key``; RateLimited (429 + Retry-After) once the window is full."""
        if not await self.allow(key, per_minute):
            limit = per_minute or self.per_minute
            raise RateLimited(
                f"too many {what}; the limit is {limit} per minute",
                retry_after=await self._retry_after(key, limit),
            )

    async def allow(self, key: str, per_minute: int | None = None) -> bool:
        """Count one request; False when the window is full (the caller decides what that means)."""
        limit = self.per_minute if per_minute is None else per_minute
        if not self.enabled:
            return True
        if limit <= 0:
            return False
        try:
            return await self._limiter.hit(RateLimitItemPerMinute(limit), key)
        except (StorageError, OSError, TimeoutError) as exc:
            self._warn(exc)
            return True

    async def _retry_after(self, key: str, limit: int) -> float:
        try:
            stats = await self._limiter.get_window_stats(RateLimitItemPerMinute(limit), key)
            return max(1.0, stats.reset_time - time.time())
        except (StorageError, OSError, TimeoutError):
            return 60.0

    def _warn(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._last_warning >= _WARN_EVERY_S:
            self._last_warning = now
            log.warning(
                "rate-limit storage unavailable (%s); letting requests through until it is back",
                type(exc).__name__,
            )

    async def close(self) -> None:
        """Close the Redis connection pool (counts stay in Redis: other replicas still use them)."""
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        closer = getattr(client, "aclose", None)
        if closer is not None:
            try:
                await closer()
            except Exception:
                log.debug("closing the rate-limit storage failed", exc_info=True)
