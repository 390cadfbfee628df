"""Readiness probes."""

from __future__ import annotations

import asyncpg


async def database_ready(pool: asyncpg.Pool) -> bool:
    """Whether a pooled connection answers within two seconds."""
    async with pool.acquire(timeout=2) as conn:
        return bool(await conn.fetchval("SELECT 1", timeout=2))
