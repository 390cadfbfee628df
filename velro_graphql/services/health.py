"""Readiness probes."""

from __future__ import annotations

from velro_graphql.db.pool import Pool, ping, unavailable


async def database_ready(pool: Pool) -> bool:
    """Whether the database answers."""
    return await ping(pool)


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` means the database is out of reach for now (worth a retry)."""
    return unavailable(error)
