"""Where the database comes from: the embedded server or DATABASE_URL; migrated when embedded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from velro_graphql.config import Settings
from velro_graphql.db.embedded import ensure_database, start_embedded
from velro_graphql.db.migrate import migrate
from velro_graphql.db.pool import create_pool

EMBEDDED_DATABASE = "velro"


async def resolve_dsn(settings: Settings) -> str:
    """The DSN to use: DATABASE_URL, or the embedded server's `velro` database (started here)."""
    if settings.database_url:
        return settings.database_url
    _, admin_dsn = start_embedded(settings.velro_home)
    return await ensure_database(admin_dsn, EMBEDDED_DATABASE)


async def run_migrations(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn)
    finally:
        await conn.close()


@asynccontextmanager
async def open_pool(settings: Settings, *, size: int | None = None) -> AsyncIterator[asyncpg.Pool]:
    """Open the pool; in the embedded default also start the server and migrate it."""
    dsn = await resolve_dsn(settings)
    if settings.embedded:
        await run_migrations(dsn)
    pool = await create_pool(
        dsn,
        size=size or settings.db_pool_size,
        statement_cache_size=settings.db_statement_cache_size,
    )
    try:
        yield pool
    finally:
        await pool.close()
