"""What one WebSocket may hold and do: sockets per user, operations that do not block the socket,
subscriptions that complete once their generation has."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from websockets.asyncio.client import ClientConnection

from tests.api.live_server import LiveServer, closed_with, live_server, receive, send
from tests.factories import make_generation, make_token
from velro_graphql.api.auth import local_user_id
from velro_graphql.api.types.relay import to_global_id
from velro_graphql.config import Settings

WATCH = "subscription W($id: ID!) { generationUpdated(id: $id) { id status } }"
START = """mutation { startGeneration(input: {modelId: "fal-ai/flux-pro", prompt: "slow"}) {
  creditsBalance userErrors { code } } }"""


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[LiveServer]:
    async with live_server(settings) as running:
        yield running


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(settings.database_url)
    yield conn
    await conn.close()


async def test_the_eleventh_socket_of_a_user_is_closed_with_1013(server: LiveServer) -> None:
    email = "many@example.com"
    held = [await server.signed_in(email) for _ in range(10)]
    extra = await server.connect()
    await send(extra, "connection_init", payload={"Authorization": held_token(email)})
    assert await closed_with(extra) == 1013
    assert extra.close_reason == "At most 10 open WebSockets per user."
    assert (await server.signed_in("other@example.com")).state.name == "OPEN"

    await held.pop().close()  # a closed socket frees its place
    async with asyncio.timeout(5):
        while True:
            again = await server.connect()
            await send(again, "connection_init", payload={"Authorization": held_token(email)})
            if (await receive(again))["type"] == "connection_ack":
                break
    for ws in [*held, again]:
        await ws.close()


def held_token(email: str) -> str:
    return f"Bearer {make_token(email)}"


@pytest.fixture
async def locked(server: LiveServer, db: asyncpg.Connection) -> AsyncIterator[ClientConnection]:
    """A signed-in user whose profile row `db` holds locked: charging it waits until ROLLBACK."""
    email = "blocked@example.com"
    ws = await server.signed_in(email)
    await db.execute("BEGIN")
    await db.execute("SELECT 1 FROM profiles WHERE id = $1 FOR NO KEY UPDATE", local_user_id(email))
    yield ws
    if db.is_in_transaction():
        await db.execute("ROLLBACK")
    await ws.close()


async def test_a_slow_mutation_delays_neither_pings_nor_subscriptions(
    settings: Settings, locked: ClientConnection
) -> None:
    other = await asyncpg.connect(settings.database_url)
    generation = await make_generation(
        other, local_user_id("blocked@example.com"), status="IN_PROGRESS"
    )
    variables = {"id": to_global_id("Generation", generation)}
    await send(locked, "subscribe", id="w", payload={"query": WATCH, "variables": variables})
    assert (await receive(locked))["id"] == "w"

    await send(locked, "subscribe", id="slow", payload={"query": START})
    await send(locked, "ping")
    assert await receive(locked) == {"type": "pong"}
    await other.execute("UPDATE generations SET progress = 0.5 WHERE id = $1", generation)
    assert (await receive(locked))["id"] == "w"
    await other.close()


async def test_complete_frees_the_id_and_lets_a_started_mutation_finish_unseen(
    db: asyncpg.Connection, locked: ClientConnection
) -> None:
    await send(locked, "subscribe", id="slow", payload={"query": START})
    await asyncio.sleep(0.2)
    await send(locked, "complete", id="slow")
    me = "{ me { creditsBalance } }"
    await send(locked, "subscribe", id="slow", payload={"query": me})  # the id is free at once
    await asyncio.sleep(0.1)
    await db.execute("ROLLBACK")  # the mutation, never cut off midway, now charges
    result = await receive(locked)
    assert result["payload"]["data"]["me"]["creditsBalance"] <= 1000
    assert await receive(locked) == {"type": "complete", "id": "slow"}
    user = local_user_id("blocked@example.com")
    async with asyncio.timeout(5):  # it finished; its own result was dropped
        while await db.fetchval("SELECT count(*) FROM generations WHERE user_id = $1", user) == 0:
            await asyncio.sleep(0.05)
    balance = await db.fetchval("SELECT credits_balance FROM profiles WHERE id = $1", user)
    assert balance < 1000


async def test_generation_updated_completes_after_a_terminal_state(
    server: LiveServer, db: asyncpg.Connection
) -> None:
    email = "terminal@example.com"
    ws = await server.signed_in(email)
    running = await make_generation(db, local_user_id(email), status="IN_PROGRESS")
    done = await make_generation(db, local_user_id(email), status="COMPLETED")
    for op_id, generation in (("r", running), ("d", done)):
        variables = {"id": to_global_id("Generation", generation)}
        await send(ws, "subscribe", id=op_id, payload={"query": WATCH, "variables": variables})
    first = [await receive(ws) for _ in range(3)]
    by_type = sorted((m["type"], m["id"]) for m in first)
    assert by_type == [("complete", "d"), ("next", "d"), ("next", "r")]

    await db.execute(
        "UPDATE generations SET status = 'CANCELLED', completed_at = now() WHERE id = $1",
        running,
    )
    last = await receive(ws)
    while last["payload"]["data"]["generationUpdated"]["status"] != "CANCELLED":
        last = await receive(ws)
    assert await receive(ws) == {"type": "complete", "id": "r"}
    assert server.app.state.fanout.feeds.subscriber_count == 0
    await ws.close()
