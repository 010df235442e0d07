"""Recommendation caches: bounded in-memory (cachetools) or shared Redis, both with single-flight.

Keys are built by the advisor from the history's content, the catalog version, the model and the prompt version;
they never contain a token or anything a different user controls. Values are the validated JSON responses.

Single-flight: concurrent identical misses wait for one computation. In-process this is a per-key asyncio lock;
across replicas (Redis) it is a Redis lock with a timeout. Redis trouble never fails a request: the cache degrades
to pass-through with a warning and recovers by itself when Redis comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, Protocol

from cachetools import TTLCache

log = logging.getLogger(__name__)


class RecommendationCache(Protocol):
    name: str

    async def get(self, key: str) -> str | None: ...
    async def set(self, key: str, value: str) -> None: ...
    def distributed_lock(self, key: str) -> contextlib.AbstractAsyncContextManager[None]: ...
    async def close(self) -> None: ...


class MemoryCache:
    """Per-process, bounded by entry count and TTL."""

    name = "memory"

    def __init__(self, maxsize: int = 10_000, ttl_s: int = 86_400) -> None:
        self._data: TTLCache[str, str] = TTLCache(maxsize=maxsize, ttl=max(ttl_s, 1))
        self._enabled = ttl_s > 0

    async def get(self, key: str) -> str | None:
        return self._data.get(key) if self._enabled else None

    async def set(self, key: str, value: str) -> None:
        if self._enabled:
            self._data[key] = value

    @contextlib.asynccontextmanager
    async def distributed_lock(self, key: str) -> AsyncIterator[None]:
        yield  # one process: the advisor's local single-flight is enough

    async def close(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class RedisCache:
    """Shared across replicas. Every Redis error degrades to pass-through for that call."""

    name = "redis"

    def __init__(
        self,
        url: str,
        ttl_s: int = 86_400,
        *,
        prefix: str = "finadvisor:rec:",
        lock_timeout_s: float = 120.0,
        op_timeout_s: float = 0.5,
        client: Any = None,
    ) -> None:
        import redis.asyncio as redis

        self._client = client or redis.from_url(
            url, socket_timeout=op_timeout_s, socket_connect_timeout=op_timeout_s, decode_responses=True
        )
        self.ttl_s = ttl_s
        self.prefix = prefix
        self.lock_timeout_s = lock_timeout_s
        self._warned_at = 0.0

    def _degraded(self, what: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at > 30:  # one warning per 30 s, not one per request
            log.warning(
                "redis cache unavailable during %s (%s); serving without the shared cache",
                what,
                type(exc).__name__,
            )
            self._warned_at = now

    async def get(self, key: str) -> str | None:
        try:
            value = await self._client.get(self.prefix + key)
        except Exception as exc:  # redis.RedisError, OSError, timeouts: all mean "no cache right now"
            self._degraded("get", exc)
            return None
        return value if isinstance(value, str) else None

    async def set(self, key: str, value: str) -> None:
        if self.ttl_s <= 0:
            return
        try:
            await self._client.set(self.prefix + key, value, ex=self.ttl_s)
        except Exception as exc:
            self._degraded("set", exc)

    @contextlib.asynccontextmanager
    async def distributed_lock(self, key: str) -> AsyncIterator[None]:
        lock = self._client.lock(
            self.prefix + key + ":lock",
            timeout=self.lock_timeout_s,
            blocking_timeout=self.lock_timeout_s,
            sleep=0.05,
        )
        acquired = False
        try:
            acquired = await lock.acquire()
        except Exception as exc:
            self._degraded("lock", exc)
        try:
            yield
        finally:
            if acquired:
                with contextlib.suppress(Exception):
                    await lock.release()

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except Exception:
            return False

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._client.aclose()


def create_cache(url: str, *, ttl_s: int, maxsize: int) -> RecommendationCache:
    if url == "memory":
        return MemoryCache(maxsize=maxsize, ttl_s=ttl_s)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisCache(url, ttl_s=ttl_s)
    from finadvisor.errors import ConfigError

    raise ConfigError(f"unknown cache {url!r}; use 'memory' or redis://host:port/db")


class SingleFlight:
    """Per-key asyncio locks for this process, dropped when nobody holds or waits on them."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def __call__(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
