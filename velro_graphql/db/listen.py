"""One LISTEN connection: notifications of committed changes, ids only."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

CHANNEL = "velro_events"


async def open_listener(
    dsn: str, on_payload: Callable[[str], None], on_lost: Callable[[], None]
) -> asyncpg.Connection:
    """Connect and LISTEN; `on_payload` gets each notification's text, `on_lost` a drop."""
    conn = await asyncpg.connect(dsn, statement_cache_size=0)
    conn.add_termination_listener(lambda _conn: on_lost())
    await conn.add_listener(CHANNEL, lambda _c, _pid, _channel, payload: on_payload(payload))
    return conn
