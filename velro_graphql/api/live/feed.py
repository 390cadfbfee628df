"""A feed: the subscribers sharing one (user, document, variables), and what it owes them.

A feed records the events that concern it and the subscribers waiting for their first message,
until `Feeds` reads it; a subscriber is where its payloads go, in its connection's outbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Sequence
from typing import Protocol
from uuid import UUID

from velro_graphql.api.live.execution import Selection
from velro_graphql.api.live.outbox import Outbox
from velro_graphql.api.live.source import LiveSource
from velro_graphql.api.live.states import StatePlan
from velro_graphql.entities import Caller
from velro_graphql.services.events import Event

# user, document text, operation name, variables as canonical JSON
FeedKey = tuple[UUID, str, str | None, str]


class Owner(Protocol):
    """The connection a subscriber belongs to."""

    outbox: Outbox

    def end(self, subscriber: Subscriber) -> None: ...


class Feed:
    __slots__ = (
        "caller",
        "changes",
        "failures",
        "joiners",
        "key",
        "members",
        "plan",
        "retry",
        "selection",
        "source",
    )

    def __init__(
        self,
        key: FeedKey,
        caller: Caller,
        selection: Selection,
        source: LiveSource[object],
        plan: StatePlan | None = None,
    ) -> None:
        self.key = key
        self.caller = caller  # any subscriber's: the key holds the user, and RLS needs no more
        self.selection = selection
        self.source = source
        self.plan = plan  # renders an event's state, for a source whose events may carry one
        self.members: dict[Subscriber, None] = {}
        self.joiners: dict[Subscriber, None] = {}  # waiting for their first message
        self.changes: dict[UUID | None, Event] = {}
        self.failures = 0  # reads failed in a row, for the retry's backoff
        self.retry: asyncio.TimerHandle | None = None

    def note(self, event: Event) -> bool:
        """Record an event if it concerns this feed; say whether it did."""
        if not self.source.wants(event):
            return False
        key = None if self.source.snapshot else event.id
        pending = self.changes.get(key)
        if not (pending and pending.since and event.since and pending.since < event.since):
            self.changes[key] = event  # of two resyncs, the one reaching further back stays
        return True

    def take(self) -> tuple[list[Event], list[Subscriber]]:
        """The pending changes and joiners; joiners become members (they miss no later event)."""
        changes, joiners = list(self.changes.values()), list(self.joiners)
        self.changes.clear()
        self.joiners.clear()
        self.members.update(dict.fromkeys(joiners))
        return changes, joiners

    def put_back(self, changes: Sequence[Event], joiners: Sequence[Subscriber]) -> None:
        """Undo `take` for a read that failed: the changes and joiners wait for the retry."""
        for event in changes:
            self.note(event)
        for subscriber in joiners:
            if subscriber.active:
                self.members.pop(subscriber, None)
                self.joiners[subscriber] = None

    @property
    def empty(self) -> bool:
        return not self.members and not self.joiners


class Subscriber:
    """One subscription of one connection: where its feed's payloads go."""

    __slots__ = ("active", "feed", "op_id", "owner", "prefix", "seen")

    def __init__(self, feed: Feed, owner: Owner, op_id: str, prefix: str) -> None:
        self.feed = feed
        self.owner = owner
        self.op_id = op_id
        self.prefix = prefix  # the message up to its payload: {"type":"next","id":"1","payload":
        self.active = True
        self.seen = -1  # the version of the newest state it was given (snapshot sources)

    def deliver(self, slot: Hashable, payload: str) -> None:
        self.owner.outbox.put((self, slot), self.prefix + payload + "}")

    def offer(self, slot: Hashable, payload: str, version: int | None) -> None:
        """Deliver a value read, unless the subscriber already has a newer state of it."""
        if version is not None:
            if version < self.seen:
                return
            self.seen = version
        self.deliver(slot, payload)
