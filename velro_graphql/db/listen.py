"""One LISTEN connection: notifications of committed changes, ids only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg

CHANNEL = "velro_events"
ListenConnection = asyncpg.Connection


async def open_listener(
    dsn: str,
    on_payload: Callable[[str], None],
    on_lost: Callable[[ListenConnection], None],
) -> ListenConnection:
    """Connect and LISTEN; `on_payload` gets each notification's text, `on_lost` the
    connection when it ends."""
    conn = await asyncpg.connect(dsn, statement_cache_size=0, timeout=10)
    try:
        await conn.add_listener(CHANNEL, lambda _c, _pid, _channel, payload: on_payload(payload))
    except BaseException:
        conn.terminate()
        raise
    conn.add_termination_listener(lambda _closed: on_lost(conn))
    return conn


async def answers(conn: ListenConnection, *, timeout: float) -> bool:
    """Whether the connection still answers: a silently dropped one never reports its loss."""
    try:
        await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
    return True
