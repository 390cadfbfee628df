"""How long to wait before the next attempt: exponential, capped, jittered.

One rule for every retry in the package (jobs, downloads, the LISTEN connection, live reads,
readiness probes). The jitter keeps replicas that failed together from retrying in step.
"""

from __future__ import annotations

import random


def backoff_delay(attempt: int, *, first: float, cap: float) -> float:
    """The wait before retry number `attempt` (1 for the first retry): `first` doubling per
    attempt up to `cap`, then scaled by a random factor between 0.5 and 1."""
    exponent = min(max(attempt - 1, 0), 60)  # 2**60 already dwarfs any cap
    return min(cap, first * 2.0**exponent) * random.uniform(0.5, 1.0)
