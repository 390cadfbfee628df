"""The one retry-delay rule: doubling from `first`, capped, jittered into the upper half."""

from __future__ import annotations

from velro_graphql.backoff import backoff_delay


def test_doubles_from_first_within_the_jitter() -> None:
    for attempt, full in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0)]:
        delays = [backoff_delay(attempt, first=0.5, cap=30.0) for _ in range(200)]
        assert all(full / 2 <= delay <= full for delay in delays)
        assert max(delays) - min(delays) > full / 10  # jittered, not a constant


def test_never_exceeds_the_cap_even_after_many_attempts() -> None:
    assert all(15.0 <= backoff_delay(10_000, first=1.0, cap=30.0) <= 30.0 for _ in range(100))
