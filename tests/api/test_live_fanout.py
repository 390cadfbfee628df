"""The fan-out: subscribers that share a subscription share its reads, and nobody waits for
a slow client."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from tests.api.live_server import LiveServer, live_server, receive, send
from tests.factories import make_generation
from velro_graphql.api.admission import Request
from velro_graphql.api.app import verify_caller
from velro_graphql.api.auth import local_user_id
from velro_graphql.api.live.fanout import Fanout, open_fanout
from velro_graphql.api.live.feed import Subscriber
from velro_graphql.api.live.outbox import Outbox
from velro_graphql.api.live.protocol import TRANSPORT_WS
from velro_graphql.api.types.relay import to_global_id
from velro_graphql.config import Settings
from velro_graphql.db.pool import create_pool
from velro_graphql.entities import Caller
from velro_graphql.services.events import Event

WATCH = "subscription Watch($id: ID!) { generationUpdated(id: $id) { id status progress } }"


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[LiveServer]:
    async with live_server(settings) as running:
        yield running


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the database owner: it writes what workers write."""
    conn = await asyncpg.connect(settings.database_url)
    yield conn
    await conn.close()


def progress(message: dict[str, Any]) -> float:
    value: float = message["payload"]["data"]["generationUpdated"]["progress"]
    return value


# The row's own fields come with the change's notification; outputs need a read.
WATCH_OUTPUTS = WATCH.replace("progress", "progress outputs { url }")


@pytest.mark.parametrize(("query", "reads"), [(WATCH, 0), (WATCH_OUTPUTS, 1)])
async def test_subscribers_of_one_generation_share_one_read_per_event(
    server: LiveServer, db: asyncpg.Connection, settings: Settings, query: str, reads: int
) -> None:
    email = "share@example.com"
    clients = [await server.signed_in(email) for _ in range(4)]
    generation = await make_generation(db, local_user_id(email), status="IN_PROGRESS")
    watch = {"query": query, "variables": {"id": to_global_id("Generation", generation)}}
    for ws in clients:
        for op_id in "abcde":
            await send(ws, "subscribe", id=op_id, payload=watch)
    for ws in clients:
        assert {(await receive(ws))["id"] for _ in "abcde"} == set("abcde")
        await drain(ws)  # the insert's own announcement may add a repeat of the first state

    async with logged_statements(server, settings) as statements:
        for k in (1, 2, 3):
            statements.clear()
            await db.execute(
                "UPDATE generations SET progress = $1 WHERE id = $2", k / 8, generation
            )
            for ws in clients:
                assert [progress(await receive(ws)) for _ in "abcde"] == [k / 8] * 5
            # 20 subscribers: at most one transaction as the user, one read of the generation.
            assert sum(s.startswith("BEGIN") for s in statements) == reads, statements
            assert sum("FROM generations" in s for s in statements) == reads, statements
    for ws in clients:
        await ws.close()


async def drain(ws: Any, quiet: float = 0.2) -> None:
    """Receive until nothing arrives for `quiet` seconds."""
    with contextlib.suppress(TimeoutError):
        while True:
            await receive(ws, timeout=quiet)


@contextlib.asynccontextmanager
async def logged_statements(server: LiveServer, settings: Settings) -> AsyncIterator[list[str]]:
    """Point the app's reads at a one-connection pool that records every statement."""
    services = server.app.state.services
    statements: list[str] = []
    pool = await create_pool(settings.database_url, size=1)
    async with pool.acquire() as conn:
        conn.add_query_logger(lambda logged: statements.append(logged.query))
    original, services.runtime.pool = services.runtime.pool, pool
    try:
        yield statements
    finally:
        services.runtime.pool = original
        await pool.close()


class FakeSocket:
    """What an Outbox needs of a WebSocket; a stalled one blocks every send until released."""

    def __init__(self, *, stalled: bool = False) -> None:
        self.received: list[dict[str, Any]] = []
        self.released = asyncio.Event()
        self.closed: tuple[int, str] | None = None
        if not stalled:
            self.released.set()

    async def send_text(self, text: str) -> None:
        await self.released.wait()
        self.received.append(json.loads(text))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = (code, reason)


class FakeConnection:
    def __init__(self, socket: FakeSocket) -> None:
        self.socket = socket
        self.outbox = Outbox(socket, limit=100, max_behind=30)  # type: ignore[arg-type]

    def end(self, subscriber: Subscriber) -> None:
        return None


async def subscribe(fanout: Fanout, caller: Caller, owner: FakeConnection, gid: str) -> None:
    await join(fanout, caller, owner, Request(WATCH, {"id": gid}))


async def join(fanout: Fanout, caller: Caller, owner: FakeConnection, request: Request) -> None:
    """What a connection does for a `subscribe` message, without the WebSocket."""
    admitted = await fanout.admission.admit(fanout.context(caller), request)
    feed = await fanout.feed(caller, request, admitted)
    fanout.feeds.join(Subscriber(feed, owner, "1", TRANSPORT_WS.data_prefix("1")))


async def until(condition: Callable[[], bool], timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


@pytest.fixture
async def fanout(client: Any, schema: Any) -> AsyncIterator[Fanout]:
    async with open_fanout(schema, client.services, verify_caller) as opened:
        yield opened


async def watched_generation(client: Any, email: str) -> tuple[Caller, UUID, str]:
    caller = await client.user(email)
    async with client.services.pool.acquire() as conn:
        generation = await make_generation(conn, caller.user_id, status="IN_PROGRESS")
    return caller, generation, to_global_id("Generation", generation)


async def test_a_stalled_client_gets_the_latest_state_and_delays_nobody(
    fanout: Fanout, client: Any, db: asyncpg.Connection
) -> None:
    caller, generation, gid = await watched_generation(client, "slow@example.com")
    fast = [FakeConnection(FakeSocket()) for _ in range(3)]
    slow = FakeConnection(FakeSocket(stalled=True))
    for owner in [*fast, slow]:
        await subscribe(fanout, caller, owner, gid)
    await until(lambda: all(owner.socket.received for owner in fast))

    for k in range(1, 6):
        await db.execute("UPDATE generations SET progress = $1 WHERE id = $2", k / 8, generation)
        await until(lambda k=k: all(states(owner)[-1:] == [k / 8] for owner in fast))
    assert slow.socket.received == []

    slow.socket.released.set()
    await until(lambda: states(slow)[-1:] == [5 / 8])
    await asyncio.sleep(0.05)
    # The first state was already on its way; of the later ones only the latest was left.
    assert states(slow) == [None, 5 / 8]
    assert all(states(owner) == [None, *(k / 8 for k in range(1, 6))] for owner in fast)


def states(owner: FakeConnection) -> list[float | None]:
    """The distinct successive progress values a connection received."""
    seen = [progress(message) for message in owner.socket.received]
    return [value for n, value in enumerate(seen) if n == 0 or seen[n - 1] != value]


async def test_a_burst_of_events_is_read_once(fanout: Fanout, client: Any) -> None:
    caller, generation, gid = await watched_generation(client, "burst@example.com")
    owner = FakeConnection(FakeSocket())
    await subscribe(fanout, caller, owner, gid)
    await until(lambda: len(owner.socket.received) >= 1)
    await asyncio.sleep(0.2)  # past the insert's own announcement
    before = len(owner.socket.received)
    for _ in range(10):
        fanout.feeds.publish(caller.user_id, Event("generation", generation))
    await until(lambda: len(owner.socket.received) > before)
    await asyncio.sleep(0.05)
    assert len(owner.socket.received) == before + 1


async def test_generation_events_sends_those_running_then_each_change(
    fanout: Fanout, client: Any, db: asyncpg.Connection
) -> None:
    caller = await client.user("dashboard@example.com")
    running = [
        await make_generation(db, caller.user_id, status=s) for s in ("QUEUED", "IN_PROGRESS")
    ]
    await make_generation(db, caller.user_id, status="COMPLETED")
    owner = FakeConnection(FakeSocket())
    await join(fanout, caller, owner, Request("subscription { generationEvents { id status } }"))
    await until(lambda: len(owner.socket.received) >= 2)
    first = {m["payload"]["data"]["generationEvents"]["id"] for m in owner.socket.received[:2]}
    assert first == {to_global_id("Generation", g) for g in running}

    await db.execute(
        "UPDATE generations SET status = 'COMPLETED', completed_at = now() WHERE id = $1",
        running[0],
    )
    done = {"id": to_global_id("Generation", running[0]), "status": "COMPLETED"}
    await until(lambda: owner.socket.received[-1]["payload"]["data"]["generationEvents"] == done)


async def test_one_document_for_two_users_is_two_feeds(fanout: Fanout, client: Any) -> None:
    balance = "subscription { creditsChanged { balance } }"
    owners = []
    for email, credits in (("rich@example.com", 5000), ("poor@example.com", 10)):
        caller = await client.user(email)
        async with client.services.pool.acquire() as conn:
            await conn.execute(
                "UPDATE profiles SET credits_balance = $1 WHERE id = $2", credits, caller.user_id
            )
        owner = FakeConnection(FakeSocket())
        await join(fanout, caller, owner, Request(balance))
        owners.append(owner)
    await until(lambda: all(owner.socket.received for owner in owners))
    balances = [o.socket.received[0]["payload"]["data"]["creditsChanged"] for o in owners]
    assert balances == [{"balance": 5000}, {"balance": 10}]


async def test_a_client_that_stops_reading_is_closed_with_1013() -> None:
    behind = FakeSocket(stalled=True)
    Outbox(behind, limit=100, max_behind=0.2).put("a", "{}")  # type: ignore[arg-type]
    await until(lambda: behind.closed is not None)
    assert behind.closed == (1013, "Too slow reading its messages.")

    flooded = FakeSocket(stalled=True)
    outbox = Outbox(flooded, limit=3, max_behind=30)  # type: ignore[arg-type]
    for key in range(5):
        outbox.put(key, "{}")
    flooded.released.set()
    await until(lambda: flooded.closed is not None)
    assert flooded.closed == (1013, "Too many unsent messages.")
    await outbox.stop()


async def test_a_client_that_keeps_up_stays_however_long_it_receives() -> None:
    socket = FakeSocket()
    outbox = Outbox(socket, limit=100, max_behind=0.2)  # type: ignore[arg-type]
    for n in range(8):  # for longer than max_behind, each message sent at once
        outbox.put(n, "{}")
        await asyncio.sleep(0.05)
    assert socket.closed is None and len(socket.received) == 8
    socket.released.clear()  # then it stops reading
    outbox.put("late", "{}")
    await until(lambda: socket.closed is not None)
    assert socket.closed == (1013, "Too slow reading its messages.")
    await outbox.stop()
