"""Moving-window budgets in this process's memory, counted as limits' MovingWindowRateLimiter
counts them, at a few microseconds a hit.

limits' own memory storage cost 90-175 us of CPU per operation here: every hit schedules an
expiry task that hops to a thread, and each window is a list grown at its head.
"""

from __future__ import annotations

import time
from collections import deque
from itertools import repeat

from limits import RateLimitItem
from limits.util import WindowStats

# Past this many keys, a new key first drops the windows that have emptied.
_SWEEP_AT = 10_000


class MovingWindows:
    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}  # by limits' key: oldest hit first
        self._longest = 0

    async def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        """Take `cost` from the window, unless that would exceed the item's amount."""
        hits = self._window(item, identifiers)
        if len(hits) + cost > item.amount:
            return False
        hits.extend(repeat(time.time(), cost))
        return True

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        """When the oldest hit in the window leaves it, and what remains of the amount."""
        hits = self._window(item, identifiers)
        start = hits[0] if hits else time.time()
        return WindowStats(start + item.get_expiry(), item.amount - len(hits))

    def _window(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> deque[float]:
        now, expiry = time.time(), item.get_expiry()
        name = item.key_for(*identifiers)  # as limits names it: equal items share one there too
        hits = self._hits.get(name)
        if hits is None:
            if len(self._hits) >= _SWEEP_AT:
                self._sweep(now)
            hits = self._hits[name] = deque()
            self._longest = max(self._longest, expiry)
        while hits and hits[0] < now - expiry:
            hits.popleft()
        return hits

    def _sweep(self, now: float) -> None:
        stale = [
            name for name, hits in self._hits.items() if not hits or hits[-1] < now - self._longest
        ]
        for name in stale:
            del self._hits[name]
