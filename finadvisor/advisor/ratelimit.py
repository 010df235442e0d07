"""A per-user fixed-window rate limit (in memory, bounded). Keys are hashes, never raw tokens."""

from __future__ import annotations

import hashlib
import time

from cachetools import TTLCache

from finadvisor.errors import RateLimited


def user_key(secret_or_id: str) -> str:
    return hashlib.sha256(secret_or_id.encode()).hexdigest()[:32]


class RateLimiter:
    def __init__(self, per_minute: int, *, maxsize: int = 100_000) -> None:
        self.per_minute = per_minute
        self._windows: TTLCache[str, list[float]] = TTLCache(maxsize=maxsize, ttl=60)

    def check(self, key: str) -> None:
        now = time.monotonic()
        window = self._windows.get(key)
        if window is None or now - window[0] >= 60:
            self._windows[key] = [now, 1]
            return
        if window[1] >= self.per_minute:
            raise RateLimited(f"too many recommendation requests; the limit is {self.per_minute} per minute",
                              retry_after=max(1.0, 60 - (now - window[0])))
        window[1] += 1
