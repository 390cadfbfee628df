"""A cache bounded in bytes: the least recently used entries go first past the bound."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class BoundedCache(Generic[V]):
    """Entries weighed by `weigh`; one heavier than the whole bound is never kept."""

    def __init__(self, max_bytes: int, weigh: Callable[[V], int]) -> None:
        self._max_bytes = max_bytes
        self._weigh = weigh
        self._entries: OrderedDict[str, V] = OrderedDict()
        self.bytes = 0

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def get(self, key: str) -> V | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: str, value: V) -> None:
        weight = self._weigh(value)
        if key in self._entries or weight > self._max_bytes:
            return
        self._entries[key] = value
        self.bytes += weight
        while self.bytes > self._max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.bytes -= self._weigh(evicted)
