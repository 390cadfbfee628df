"""Subscriptions rendered from the state a notification carries: the same bytes as per-field
execution for every selection the declaration allows, no read, and never an older state after
a newer one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from tests.api.test_live_fanout import (
    FakeConnection,
    FakeSocket,
    join,
    until,
    watched_generation,
)
from tests.factories import make_generation
from velro_graphql.api.admission import Request
from velro_graphql.api.app import verify_caller
from velro_graphql.api.live.execution import Renderer
from velro_graphql.api.live.fanout import Fanout, open_fanout
from velro_graphql.api.live.feed import Feed
from velro_graphql.config import Settings
from velro_graphql.db.listen import CHANNEL
from velro_graphql.entities import Caller
from velro_graphql.services.events import Event
from velro_graphql.services.read_model import TABLES

FIELDS = ["id", "__typename", *TABLES["Generation"].scalars]


def selections() -> list[str]:
    """Selections of `generationUpdated` built from the declaration: every field, each field
    under an alias, and fragments of both kinds."""
    every = " ".join(FIELDS)
    return [
        every,
        *(f"a{n}: {name} id" for n, name in enumerate(FIELDS)),
        "...F status",
        "... on Generation { progress queuePosition } createdAt",
    ]


def document(selection: str) -> str:
    fragment = " fragment F on Generation { id completedAt }" if "...F" in selection else ""
    return f"subscription W($id: ID!) {{ w: generationUpdated(id: $id) {{ {selection} }} }}" + (
        fragment
    )


@pytest.fixture
async def fanout(client: Any, schema: Any) -> AsyncIterator[Fanout]:
    async with open_fanout(schema, client.services, verify_caller) as opened:
        yield opened


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """The writer, in a time zone other than UTC: timestamps in states carry its offset."""
    conn = await asyncpg.connect(settings.database_url)
    await conn.execute("SET TimeZone = 'Asia/Kolkata'")
    yield conn
    await conn.close()


async def feed_of(fanout: Fanout, caller: Caller, query: str, gid: str) -> Feed:
    request = Request(query, {"id": gid})
    admitted = await fanout.admission.admit(fanout.context(caller), request)
    return await fanout.feed(caller, request, admitted)


class Writer:
    """Commits changes and returns what their notification carried."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.payloads: asyncio.Queue[str] = asyncio.Queue()

    async def notification(self, update: str, generation: UUID, *args: Any) -> dict[str, Any]:
        """Run an update of `generation`; the notification its commit sent."""
        await self.conn.execute(update, generation, *args)
        while True:  # past others (an insert's, with version 0; other rows'; balances)
            payload: dict[str, Any] = json.loads(await asyncio.wait_for(self.payloads.get(), 5))
            if (
                payload.get("id") == str(generation)
                and payload.get("state", {"version": 1})["version"]
            ):
                return payload

    async def state(self, update: str, generation: UUID, *args: Any) -> dict[str, Any]:
        state: dict[str, Any] = (await self.notification(update, generation, *args))["state"]
        return state


@pytest.fixture
async def writer(db: asyncpg.Connection, settings: Settings) -> AsyncIterator[Writer]:
    listener = await asyncpg.connect(settings.database_url)
    writer = Writer(db)
    await listener.add_listener(CHANNEL, lambda *a: writer.payloads.put_nowait(a[3]))
    yield writer
    await listener.close()


STATES = [
    ("UPDATE generations SET progress = 0.0625, queue_position = 3 WHERE id = $1", ()),
    (
        "UPDATE generations SET status = 'IN_PROGRESS', progress = 0.12345678,"
        " started_at = '2026-01-02 03:04:05+00', queue_position = NULL,"
        " negative_prompt = $2, favorite = true, image_url = 'https://x/\"y\"' WHERE id = $1",
        ('no "blur", ünïcode ☃',),
    ),
    (
        "UPDATE generations SET status = 'COMPLETED', progress = 1,"
        " completed_at = '2026-01-02 03:04:05.000001+00' WHERE id = $1",
        (),
    ),
]


@pytest.mark.parametrize("statement", range(len(STATES)))
async def test_a_state_renders_as_per_field_execution_does(
    fanout: Fanout, client: Any, schema: Any, writer: Writer, statement: int
) -> None:
    caller, generation, gid = await watched_generation(client, f"same{statement}@example.com")
    sql, args = STATES[statement]
    state = await writer.state(sql, generation, *args)
    renderer = Renderer(schema)
    for selection in selections():
        feed = await feed_of(fanout, caller, document(selection), gid)
        assert feed.plan is not None, selection
        context = fanout.context(caller)
        try:
            items = await feed.source.read(context, ())
            ((_, expected),) = await renderer.render(feed.selection, context, items)
        finally:
            await context.close()
        assert feed.plan.render(state) == expected, selection


@pytest.mark.parametrize(
    "selection",
    [
        "id outputs { url }",
        "project { id }",
        "parameters",
        "estimatedCompletionAt",
        "logs { message }",
        "status @include(if: true)",
        "... on Node { id }",
        "status status",
    ],
)
async def test_a_selection_that_needs_more_than_the_row_is_read(
    fanout: Fanout, client: Any, selection: str
) -> None:
    caller, _, gid = await watched_generation(client, "more@example.com")
    assert (await feed_of(fanout, caller, document(selection), gid)).plan is None


async def test_a_late_notification_of_an_older_state_is_not_delivered(
    fanout: Fanout, client: Any, writer: Writer
) -> None:
    caller, generation, gid = await watched_generation(client, "late@example.com")
    change = "UPDATE generations SET progress = $2 WHERE id = $1"
    old = await writer.state(change, generation, 0.25)
    new = await writer.state(change, generation, 0.5)
    owner = FakeConnection(FakeSocket())
    query = "subscription W($id: ID!) { generationUpdated(id: $id) { progress } }"
    await join(fanout, caller, owner, Request(query, {"id": gid}))
    await until(lambda: len(owner.socket.received) >= 1)  # the read: 0.5
    await asyncio.sleep(0.1)  # and whatever the updates' own notifications brought
    for state in (old, new):  # arriving late, after the read
        fanout.feeds.publish(caller.user_id, Event("generation", generation, state=state))
    newer = {**new, "version": new["version"] + 1, "progress": 0.75}
    fanout.feeds.publish(caller.user_id, Event("generation", generation, state=newer))
    await until(lambda: len(owner.socket.received) >= 2)
    await asyncio.sleep(0.05)
    seen = [m["payload"]["data"]["generationUpdated"]["progress"] for m in owner.socket.received]
    assert seen[0] == 0.5 and seen[-1] == 0.75
    assert 0.25 not in seen and seen == sorted(seen)


async def test_a_final_state_completes_the_subscription_without_a_read(
    fanout: Fanout, client: Any, db: asyncpg.Connection
) -> None:
    caller, generation, gid = await watched_generation(client, "final@example.com")
    ended: list[Any] = []
    owner = FakeConnection(FakeSocket())
    owner.end = ended.append  # type: ignore[method-assign]
    await join(fanout, caller, owner, Request(document("id status"), {"id": gid}))
    await until(lambda: len(owner.socket.received) >= 1)
    await asyncio.sleep(0.1)
    await db.execute(
        "UPDATE generations SET status = 'CANCELLED', completed_at = now() WHERE id = $1",
        generation,
    )
    # The subscription ends at once; its last message leaves through the outbox after.
    await until(lambda: bool(ended) and len(owner.socket.received) >= 2)
    last = owner.socket.received[-1]["payload"]["data"]["w"]
    assert last == {"id": gid, "status": "CANCELLED"}


async def test_a_state_too_large_for_a_notification_is_announced_by_id(
    client: Any, db: asyncpg.Connection, writer: Writer
) -> None:
    caller = await client.user("large@example.com")
    generation = await make_generation(db, caller.user_id, prompt="☃" * 2000)  # 6,000 bytes
    change = "UPDATE generations SET negative_prompt = $2 WHERE id = $1"
    payload = await writer.notification(change, generation, "☃" * 1000)
    assert "state" not in payload
    assert (UUID(payload["id"]), payload["kind"]) == (generation, "generation")
