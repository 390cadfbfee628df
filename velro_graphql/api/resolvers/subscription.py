"""Subscriptions: the current state first, then every committed change, read afresh."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TypeVar
from uuid import UUID

import strawberry

from velro_graphql.api.context import Context
from velro_graphql.api.types.generation import Generation
from velro_graphql.api.types.relay import expect_global_id
from velro_graphql.db.generations import Filter
from velro_graphql.errors import NotFound
from velro_graphql.services import credits, generations
from velro_graphql.services.events import Event

Info = strawberry.Info[Context]
T = TypeVar("T")


@strawberry.type
class CreditsChange:
    balance: int


@strawberry.type
class Subscription:
    @strawberry.subscription(description="One generation: its current state, then each change.")
    async def generation_updated(
        self, info: Info, id: strawberry.ID
    ) -> AsyncGenerator[Generation, None]:
        ctx = info.context
        generation_id = expect_global_id(id, "Generation")

        async def read() -> list[Generation]:
            found = await ctx.loaders.generation_by_id.load(generation_id)
            if found is None:
                raise NotFound("No such generation.", field="id")
            return [Generation.from_entity(found)]

        def wanted(event: Event) -> bool:
            return event.kind == "resync" or event.id == generation_id

        async for generation in _stream(ctx, read, wanted):
            yield generation

    @strawberry.subscription(
        description="The caller's generations (or one project's): those running now, then "
        "every change."
    )
    async def generation_events(
        self, info: Info, project_id: strawberry.ID | None = None
    ) -> AsyncGenerator[Generation, None]:
        ctx = info.context
        project = expect_global_id(project_id, "Project", field="projectId") if project_id else None
        pending: list[UUID] = []

        async def read() -> list[Generation]:
            if pending:
                ids, pending[:] = list(pending), []
                found = await ctx.loaders.generation_by_id.load_many(ids)
                return [Generation.from_entity(g) for g in found if g is not None]
            return await _running(ctx, project)

        def wanted(event: Event) -> bool:
            if event.kind != "generation" or (project and event.project_id != project):
                return False
            assert event.id is not None
            pending.append(event.id)
            return True

        async for generation in _stream(ctx, read, wanted):
            yield generation

    @strawberry.subscription(description="The caller's balance: now, then after each change.")
    async def credits_changed(self, info: Info) -> AsyncGenerator[CreditsChange, None]:
        ctx = info.context

        async def read() -> list[CreditsChange]:
            balance = await credits.current_balance(ctx.session, ctx.caller.user_id)
            return [CreditsChange(balance=balance)]

        async for change in _stream(ctx, read, lambda e: e.kind in ("balance", "resync")):
            yield change


async def _running(ctx: Context, project: UUID | None) -> list[Generation]:
    found = []
    for status in ("QUEUED", "IN_PROGRESS"):
        page = await generations.list_generations(
            ctx.session,
            ctx.caller.user_id,
            first=100,
            after=None,
            filter_=Filter(status=status, project_id=project),
        )
        found += [Generation.from_entity(g) for g in page.items]
    return found


async def _stream(
    ctx: Context, read: Callable[[], Awaitable[list[T]]], wanted: Callable[[Event], bool]
) -> AsyncGenerator[T, None]:
    """Yield what `read` returns now and after each wanted event, each in a fresh scope."""
    with ctx.subscription_slot():
        async with ctx.services.hub.subscribe(ctx.caller.user_id) as queue:
            while True:
                scope = ctx.open_event_scope()
                try:
                    items = await read()
                    for item in items:
                        yield item
                finally:
                    await scope.close()
                await _next_wanted(queue, wanted)


async def _next_wanted(queue: asyncio.Queue[Event], wanted: Callable[[Event], bool]) -> None:
    while not wanted(await queue.get()):
        pass
    # Coalesce a burst: everything already queued is covered by the next read.
    while not queue.empty():
        wanted(queue.get_nowait())
