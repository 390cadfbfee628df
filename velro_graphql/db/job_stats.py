"""SQL of the job gauges read at scrape time: each answered from a partial index."""

from __future__ import annotations

from velro_graphql.db.session import Queryable

# generations_unfinished and generation_outputs_to_copy hold only the rows counted here, so a
# scrape costs the size of the backlog, not of the history.
_UNFINISHED = """
SELECT status, count(*)::int AS count,
       extract(epoch FROM clock_timestamp() - min(created_at))::float8 AS oldest
FROM generations WHERE status IN ('QUEUED', 'IN_PROGRESS') GROUP BY status
"""
_UNSTORED = "SELECT count(*)::int FROM generation_outputs WHERE path IS NULL"


async def unfinished(conn: Queryable) -> dict[str, tuple[int, float]]:
    """Count unfinished generations by status, with the age in seconds of the oldest."""
    rows = await conn.fetch(_UNFINISHED)
    return {row["status"]: (row["count"], row["oldest"]) for row in rows}


async def unstored_outputs(conn: Queryable) -> int:
    """Count outputs that only the provider holds so far."""
    count: int = await conn.fetchval(_UNSTORED)
    return count
