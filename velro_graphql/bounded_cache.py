"""A least-recently-used cache with a bound: on the entries' weights (bytes, say) or, by
default, on their number. One for every cache of the package: documents, persisted queries,
compiled plans, their statements and the live fan-out's state plans."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _one(_: object) -> int:
    return 1


class BoundedCache(Generic[K, V]):
    """Entries weighed by `weigh` (1 each by default); one heavier than the whole bound is
    never kept. A value may be None: ask `key in cache` to tell it from a miss."""

    def __init__(self, bound: int, weigh: Callable[[V], int] = _one) -> None:
        self._bound = bound
        self._weigh = weigh
        self._entries: OrderedDict[K, V] = OrderedDict()
        self.bytes = 0  # the weight held: bytes when `weigh` counts them

    def __contains__(self, key: K) -> bool:
        return key in self._entries

    def get(self, key: K) -> V | None:
        found = self._entries.get(key)
        if key in self._entries:
            self._entries.move_to_end(key)
        return found

    def put(self, key: K, value: V) -> None:
        """Keep `value` under `key`, in place of what the key held."""
        weight = self._weigh(value)
        if weight > self._bound:
            return
        if key in self._entries:
            self.bytes -= self._weigh(self._entries.pop(key))
        self._entries[key] = value
        self.bytes += weight
        while self.bytes > self._bound:
            _, evicted = self._entries.popitem(last=False)
            self.bytes -= self._weigh(evicted)
