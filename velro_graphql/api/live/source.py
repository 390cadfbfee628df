"""What a subscription reads, and when: the source a subscription's resolver returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

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
    # The read model's type whose row state this source's events may carry: a snapshot source
    # whose subscription asks only for that row's own fields is rendered from the state, with
    # no read (api/live/states.py). None: every change is read.
    state_type: ClassVar[str | None] = None

    @abstractmethod
    def wants(self, event: Event) -> bool:
        """Whether the event may change what this source reads."""

    @abstractmethod
    async def read(self, context: Context, changes: Sequence[Event]) -> list[Item]:
        """The current state (no changes given) or what the changes touched, as the caller."""

    def finished(self, items: Sequence[Item]) -> bool:
        """Whether what was just read is the last state (its subscriptions then complete)."""
        return False

    @property
    def topic(self) -> Hashable | None:
        """The id of the one object whose events this source wants (besides events about no
        object, such as a resync), so that the fan-out offers it no other; None: any event."""
        return None

    def version(self, value: object) -> int | None:
        """Where a value read (or a state, by its `version`) stands among its object's
        committed states, for a snapshot source with a `state_type`: a subscriber never gets
        an older state after a newer one."""
        return None

    def final(self, state: Mapping[str, Any]) -> bool:
        """Whether a state carried by an event is the last (as `finished` says of a read)."""
        return False

    def __aiter__(self) -> AsyncIterator[T]:
        raise TypeError("Live sources are served by the WebSocket fan-out, not iterated.")
