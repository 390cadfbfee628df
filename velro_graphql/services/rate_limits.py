"""Rate limits per user (or client address): in memory, or shared through Redis."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from velro_graphql.config import Settings
from velro_graphql.errors import RateLimited


@dataclass(frozen=True, slots=True)
class Budget:
    limit: int
    remaining: int


class RateLimits:
    """The budgets of the contract: operations a minute, and generation starts a minute."""

    def __init__(self, settings: Settings) -> None:
        self._storage: Storage = (
            RedisStorage(_async_redis_url(settings.redis_url))
            if settings.redis_url
            else MemoryStorage()
        )
        self._limiter = MovingWindowRateLimiter(self._storage)
        self.operations: RateLimitItem = RateLimitItemPerMinute(
            settings.rate_limit_operations_per_minute
        )
        self.generations: RateLimitItem = RateLimitItemPerMinute(
            settings.rate_limit_generations_per_minute
        )

    async def spend(self, item: RateLimitItem, key: str, *, cost: int = 1) -> Budget:
        """Take `cost` from `key`'s budget, or raise RATE_LIMITED saying when to retry."""
        if cost <= 0:
            return await self.budget(item, key)
        if not await self._limiter.hit(item, key, cost=cost):
            stats = await self._limiter.get_window_stats(item, key)
            wait = max(1, math.ceil(stats.reset_time - time.time()))
            raise RateLimited(
                f"Rate limit of {item.amount} a minute reached; retry in {wait} s.",
                retry_after=wait,
            )
        return await self.budget(item, key)

    async def budget(self, item: RateLimitItem, key: str) -> Budget:
        stats = await self._limiter.get_window_stats(item, key)
        return Budget(limit=item.amount, remaining=stats.remaining)

    async def ready(self) -> bool:
        return bool(await self._storage.check())


def _async_redis_url(url: str) -> str:
    return url if url.startswith("async+") else f"async+{url}"
