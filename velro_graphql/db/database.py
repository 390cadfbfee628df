"""Where the database comes from: the embedded server or DATABASE_URL; migrated when embedded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg

from velro_graphql.config import Settings
from velro_graphql.db.embedded import ensure_database, start_embedded
from velro_graphql.db.migrate import migrate
from velro_graphql.db.pool import create_pool

EMBEDDED_DATABASE = "velro"


async def resolve_dsn(settings: Settings) -> str:
    """The DSN to use: DATABASE_URL, or the embedded server's `velro` database (started here)."""
    dsn, _ = await _start(settings)
    return dsn


async def _start(settings: Settings) -> tuple[str, Any]:
    if settings.database_url:
        return settings.database_url, None
    server, admin_dsn = start_embedded(settings.velro_home)
    return await ensure_database(admin_dsn, EMBEDDED_DATABASE), server


async def run_migrations(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn)
    finally:
        await conn.close()


@dataclass(frozen=True)
class Database:
    dsn: str
    pool: asyncpg.Pool


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    """Open the pool; in the embedded default also start the server and migrate it."""
    dsn, server = await _start(settings)
    try:
        if server is not None:
            await run_migrations(dsn)
        pool = await create_pool(
            dsn, size=settings.db_pool_size, statement_cache_size=settings.db_statement_cache_size
        )
        try:
            yield Database(dsn, pool)
        finally:
            await pool.close()
    finally:
        if server is not None:
            # Stops the embedded server when this was the last process using it. Done here, not
            # at exit: uvicorn ends on a re-raised signal, which skips atexit handlers.
            await asyncio.to_thread(server.cleanup)
