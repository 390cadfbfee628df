"""The readiness registry: probes retried with capped, jittered backoff, rarely when
misconfigured, and one log line per change of state rather than per attempt."""

from __future__ import annotations

import asyncio
import logging

import pytest

from velro_graphql.services.readiness import Backoff, Dependency, Unavailable, open_readiness


def test_backoff_doubles_to_its_cap_with_jitter() -> None:
    backoff = Backoff(check_seconds=15, retry_max_seconds=30, misconfigured_seconds=300)
    down = Dependency("storage", state="down")

    for failures, base in [(1, 1), (2, 2), (3, 4), (6, 30), (1000, 30)]:
        delays = {backoff.delay(down, failures) for _ in range(50)}
        assert all(base / 2 <= delay <= base for delay in delays)
        assert len(delays) > 1  # jittered: replicas do not retry in step
    assert 7.5 <= backoff.delay(Dependency("storage"), 0) <= 15
    assert 150 <= backoff.delay(Dependency("storage", state="misconfigured"), 3) <= 300


async def test_a_probe_is_retried_until_it_succeeds_and_logged_per_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answers: list[Unavailable | None] = [Unavailable("503")] * 3 + [None]
    attempts = 0

    async def probe() -> None:
        nonlocal attempts
        attempts += 1
        if (answer := answers[min(attempts, len(answers)) - 1]) is not None:
            raise answer

    dependency = Dependency("storage")
    with caplog.at_level(logging.INFO, logger="velro_graphql.services.readiness"):
        async with open_readiness(Backoff(check_seconds=60, retry_max_seconds=0.01)) as registry:
            await registry.watch(dependency, probe)
            assert [r.name for r in registry.failing()] == ["storage"]
            async with asyncio.timeout(5):
                while registry.failing():
                    await asyncio.sleep(0.01)

    assert attempts == 4
    assert [r.getMessage() for r in caplog.records] == ["storage is down: 503", "storage is back"]


async def test_a_misconfiguration_is_retried_rarely() -> None:
    attempts = 0

    async def probe() -> None:
        nonlocal attempts
        attempts += 1
        raise Unavailable("Supabase refused the service key", misconfigured=True)

    backoff = Backoff(retry_max_seconds=0.01, misconfigured_seconds=300)
    async with open_readiness(backoff) as registry:
        await registry.watch(Dependency("storage"), probe)
        await asyncio.sleep(0.2)
        [failing] = registry.failing()

    assert (failing.state, attempts) == ("misconfigured", 1)
