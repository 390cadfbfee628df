"""What a subscription reads, and when: the source a subscription's resolver returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Hashable, Sequence
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from velro_graphql.services.events import Event

if TYPE_CHECKING:
    from velro_graphql.api.context import Context

T = TypeVar("T")
# One value a read returns, with the slot it fills: a newer value for the same slot supersedes
# an unsent older one (None for a subscription whose every read is its whole state).
Item = tuple[Hashable, object]


class LiveSource(ABC, Generic[T]):
    """A subscription's event stream, as data: which events concern it and how to read it.

    The WebSocket fan-out (`api.live`) runs it once for all the subscribers that share it.
    """

    # True when every read returns the subscription's whole current state, so a burst of
    # events needs one read and the events themselves do not matter.
    snapshot: ClassVar[bool] = True

    @abstractmethod
    def wants(self, event: Event) -> bool:
        """Whether the event may change what this source reads."""

    @abstractmethod
    async def read(self, context: Context, changes: Sequence[Event]) -> list[Item]:
        """The current state (no changes given) or what the changes touched, as the caller."""

    def finished(self, items: Sequence[Item]) -> bool:
        """Whether what was just read is the last state (its subscriptions then complete)."""
        return False

    def __aiter__(self) -> AsyncIterator[T]:
        raise TypeError("Live sources are served by the WebSocket fan-out, not iterated.")
