"""Rate limits per user (or client address): in memory, or shared through Redis.

While Redis is down the limits fall back to this process's memory (each replica then grants a
whole budget of its own) rather than refusing or failing operations; readiness says so.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.util import WindowStats

from velro_graphql.config import Settings
from velro_graphql.errors import RateLimited
from velro_graphql.services.moving_windows import MovingWindows
from velro_graphql.services.readiness import Dependency, Readiness, Unavailable

# Redis is on the path of every operation: a hung one must not hang them.
_REDIS_TIMEOUT_SECONDS = 2.0
_PROBE_KEY = "velro:readiness-probe"


@dataclass(frozen=True, slots=True)
class Budget:
    limit: int
    remaining: int


class Limiter(Protocol):
    """Redis's moving windows (limits) or this process's (services/moving_windows.py)."""

    async def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool: ...

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats: ...


class RateLimits:
    """The budgets of the contract: operations a minute, and generation starts a minute."""

    def __init__(self, settings: Settings) -> None:
        self._local = MovingWindows()
        self._redis = _redis_storage(settings.redis_url) if settings.redis_url else None
        self._shared: Limiter | None = (
            None if self._redis is None else MovingWindowRateLimiter(self._redis)
        )
        self._where = _describe(settings.redis_url)
        self.redis = Dependency("rate_limits", blocking=False)
        self.operations: RateLimitItem = RateLimitItemPerMinute(
            settings.rate_limit_operations_per_minute
        )
        self.generations: RateLimitItem = RateLimitItemPerMinute(
            settings.rate_limit_generations_per_minute
        )

    async def watch(self, readiness: Readiness) -> None:
        """Report Redis's state in readiness and keep probing it (when REDIS_URL is set)."""
        if self._redis is not None:
            await readiness.watch(self.redis, self.probe)

    async def probe(self) -> None:
        # A read rather than limits' check(), whose bare `except:` would swallow cancellation.
        try:
            if self._redis is not None:
                await self._redis.get(_PROBE_KEY)
        except (StorageError, OSError) as error:
            raise Unavailable(self._fallback_reason(f"does not answer: {error!r}")) from None

    async def spend(self, item: RateLimitItem, key: str, *, cost: int = 1) -> Budget:
        """Take `cost` from `key`'s budget, or raise RATE_LIMITED saying when to retry."""
        return await self._on_limiter(lambda limiter: _spend(limiter, item, key, cost))

    async def _on_limiter(self, use: Callable[[Limiter], Awaitable[Budget]]) -> Budget:
        """Use Redis while it is up; this process's memory when it is not (or just failed)."""
        if self._shared is not None and self.redis.state == "up":
            try:
                return await use(self._shared)
            except (StorageError, OSError) as error:  # a dropped socket is not wrapped
                self.redis.fail(self._fallback_reason(f"failed: {error!r}"))
        return await use(self._local)

    def _fallback_reason(self, failure: str) -> str:
        return f"Redis at {self._where} {failure}; rate limits are per process until it is back"


async def _spend(limiter: Limiter, item: RateLimitItem, key: str, cost: int) -> Budget:
    if cost <= 0:
        return await _budget(limiter, item, key)
    if not await limiter.hit(item, key, cost=cost):
        stats = await limiter.get_window_stats(item, key)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(
            f"Rate limit of {item.amount} a minute reached; retry in {wait} s.",
            retry_after=wait,
        )
    return await _budget(limiter, item, key)


async def _budget(limiter: Limiter, item: RateLimitItem, key: str) -> Budget:
    stats = await limiter.get_window_stats(item, key)
    return Budget(limit=item.amount, remaining=stats.remaining)


def _redis_storage(url: str) -> RedisStorage:
    async_url = url if url.startswith("async+") else f"async+{url}"
    return RedisStorage(
        async_url,
        wrap_exceptions=True,
        connect_timeout=_REDIS_TIMEOUT_SECONDS,
        stream_timeout=_REDIS_TIMEOUT_SECONDS,
    )


def _describe(url: str | None) -> str:
    """Where Redis is, without its password."""
    if not url:
        return "(none)"
    parts = urlsplit(url)
    if parts.hostname is None:  # a unix socket
        return parts.path
    return f"{parts.hostname}:{parts.port or 6379}"
