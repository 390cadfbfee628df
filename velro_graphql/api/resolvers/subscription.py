"""Subscriptions: the current state first, then every committed change, read afresh.

Each resolver returns a `LiveSource` (which events concern the subscription, and how to read
its state); the WebSocket fan-out in `api.live` runs it once for every subscriber sharing it.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import strawberry

from velro_graphql.api.context import Context
from velro_graphql.api.live.source import Item, LiveSource
from velro_graphql.api.types.generation import Generation
from velro_graphql.api.types.relay import expect_global_id
from velro_graphql.entities import TERMINAL_STATUSES, UNFINISHED_STATUSES
from velro_graphql.errors import NotFound
from velro_graphql.services import credits
from velro_graphql.services.events import Event
from velro_graphql.services.generations import reads
from velro_graphql.services.generations.reads import Filter, PageArgs

Info = strawberry.Info[Context]
# After a long outage, the most recently changed: a connection holds at most 1000 unsent messages.
RESYNC_LIMIT = 500


@strawberry.type(description="A balance after a change.")
class CreditsChange:
    balance: int = strawberry.field(description="The balance now.")


@strawberry.type(
    description="Live updates over WebSocket: current state first, then each committed change."
)
class Subscription:
    @strawberry.subscription(description="One generation: its current state, then each change.")
    def generation_updated(self, id: strawberry.ID) -> AsyncIterable[Generation]:
        return GenerationUpdated(expect_global_id(id, "Generation"))

    @strawberry.subscription(
        description="The caller's generations (or one project's): those running now, then "
        "every change."
    )
    def generation_events(
        self, project_id: strawberry.ID | None = None
    ) -> AsyncIterable[Generation]:
        project = expect_global_id(project_id, "Project", field="projectId") if project_id else None
        return GenerationEvents(project)

    @strawberry.subscription(description="The caller's balance: now, then after each change.")
    def credits_changed(self) -> AsyncIterable[CreditsChange]:
        return CreditsChanged()


@dataclass(frozen=True)
class GenerationUpdated(LiveSource[Generation]):
    generation_id: UUID
    state_type = "Generation"

    def wants(self, event: Event) -> bool:
        return event.kind == "resync" or event.id == self.generation_id

    async def read(self, context: Context, changes: Sequence[Event]) -> list[Item]:
        found = await context.loaders.generation_by_id.load(self.generation_id)
        if found is None:
            raise NotFound("No such generation.", field="id")
        return [(None, Generation.from_entity(found))]

    def finished(self, items: Sequence[Item]) -> bool:
        return any(
            isinstance(g, Generation) and g.status.value in TERMINAL_STATUSES for _, g in items
        )

    @property
    def topic(self) -> UUID:
        return self.generation_id

    def version(self, value: object) -> int | None:
        return value.entity.version if isinstance(value, Generation) else None

    def final(self, state: Mapping[str, Any]) -> bool:
        return state.get("status") in TERMINAL_STATUSES


@dataclass(frozen=True)
class GenerationEvents(LiveSource[Generation]):
    project_id: UUID | None
    snapshot = False

    def wants(self, event: Event) -> bool:
        if event.kind == "resync":
            return True
        if event.kind != "generation":
            return False
        return self.project_id is None or event.project_id == self.project_id

    async def read(self, context: Context, changes: Sequence[Event]) -> list[Item]:
        if not changes:
            return await self._running(context)
        gap = [event.since for event in changes if event.kind == "resync" and event.since]
        if gap:  # notifications may have been missed since then: re-read what changed
            return await self._changed_since(context, min(gap))
        ids = list(dict.fromkeys(event.id for event in changes if event.id is not None))
        found = await context.loaders.generation_by_id.load_many(ids)
        return [(g.id, Generation.from_entity(g)) for g in found if g is not None]

    async def _changed_since(self, context: Context, since: datetime) -> list[Item]:
        found = await reads.changed_since(
            context.session,
            context.caller.user_id,
            since,
            project_id=self.project_id,
            limit=RESYNC_LIMIT,
        )
        return [(g.id, Generation.from_entity(g)) for g in reversed(found)]

    async def _running(self, context: Context) -> list[Item]:
        found: list[Item] = []
        for status in UNFINISHED_STATUSES:
            found += await self._page(context, status, first=100)
        return found

    async def _page(self, context: Context, status: str | None, *, first: int) -> list[Item]:
        page = await reads.list_generations(
            context.session,
            context.caller.user_id,
            PageArgs(first=first),
            Filter(status=status, project_id=self.project_id),
        )
        return [(g.id, Generation.from_entity(g)) for g in page.items]


@dataclass(frozen=True)
class CreditsChanged(LiveSource[CreditsChange]):
    def wants(self, event: Event) -> bool:
        return event.kind in ("balance", "resync")

    async def read(self, context: Context, changes: Sequence[Event]) -> list[Item]:
        balance = await credits.current_balance(context.session, context.caller.user_id)
        return [(None, CreditsChange(balance=balance))]
