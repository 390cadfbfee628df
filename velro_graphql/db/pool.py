"""The connection pool: jsonb decoded once, no reset statements on release."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import orjson

Pool = asyncpg.Pool
Connection = asyncpg.Connection
Record = asyncpg.Record


async def _init_connection(conn: asyncpg.Connection) -> None:
    # Everything read back was validated on the way in (no integers past 64 bits), so the
    # fast decoder is safe here; parameters keep the exact encoder.
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=orjson.loads, schema="pg_catalog"
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    # Every unit of work here is a transaction that ends in COMMIT or ROLLBACK, and its role and
    # claims are SET LOCAL: there is no session state to reset, so skip asyncpg's RESET ALL.
    return None


async def create_pool(
    dsn: str, *, size: int = 10, statement_cache_size: int = 100, **kwargs: Any
) -> asyncpg.Pool:
    """Open a pool to `dsn`; `statement_cache_size=0` for transaction poolers."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=size,
        statement_cache_size=statement_cache_size,
        init=_init_connection,
        reset=_keep_session,
        **kwargs,
    )
    assert pool is not None
    return pool


async def ping(pool: asyncpg.Pool) -> bool:
    """Whether a pooled connection answers within two seconds."""
    async with pool.acquire(timeout=2) as conn:
        return bool(await conn.fetchval("SELECT 1", timeout=2))


def unavailable(error: BaseException) -> bool:
    """Whether `error` says the database is out of reach (down, restarting, connection lost)."""
    return isinstance(
        error,
        OSError  # refused, reset, timed out
        | asyncpg.InterfaceError
        | asyncpg.PostgresConnectionError
        | asyncpg.OperatorInterventionError,  # shutting down, starting up
    )
