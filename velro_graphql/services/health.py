"""Readiness probes."""

from __future__ import annotations

from velro_graphql.db.pool import Pool, ping


async def database_ready(pool: Pool) -> bool:
    """Whether the database answers."""
    return await ping(pool)
