"""SQL of generation_jobs: the durable queue the workers share."""

from __future__ import annotations

from uuid import UUID

from velro_graphql.db.session import Queryable
from velro_graphql.entities import Job


async def insert(conn: Queryable, generation_id: UUID) -> None:
    await conn.execute("INSERT INTO generation_jobs (generation_id) VALUES ($1)", generation_id)


async def claim(conn: Queryable, *, owner: str, lease_seconds: int, limit: int) -> list[Job]:
    """Lease up to `limit` due jobs no live worker holds; skip rows others are claiming."""
    rows = await conn.fetch(
        """
        UPDATE generation_jobs AS j
        SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2)
        FROM (
            SELECT generation_id FROM generation_jobs
            WHERE run_at <= now() AND (lease_expires_at IS NULL OR lease_expires_at < now())
            ORDER BY run_at
            LIMIT $3
            FOR UPDATE SKIP LOCKED
        ) AS due
        WHERE j.generation_id = due.generation_id
        RETURNING j.generation_id, j.attempts, j.submitted_at
        """,
        owner,
        float(lease_seconds),
        limit,
    )
    return [Job(r["generation_id"], r["attempts"], r["submitted_at"]) for r in rows]


async def renew(conn: Queryable, generation_ids: list[UUID], *, owner: str, seconds: int) -> None:
    await conn.execute(
        "UPDATE generation_jobs SET lease_expires_at = now() + make_interval(secs => $3)"
        " WHERE generation_id = ANY($1::uuid[]) AND lease_owner = $2",
        generation_ids,
        owner,
        float(seconds),
    )


async def reschedule(
    conn: Queryable,
    generation_id: UUID,
    *,
    owner: str,
    delay_seconds: float,
    failed: bool = False,
    error: str | None = None,
) -> None:
    """Release the lease and make the job due again after `delay_seconds`."""
    await conn.execute(
        "UPDATE generation_jobs SET lease_owner = NULL, lease_expires_at = NULL,"
        " run_at = now() + make_interval(secs => $3),"
        " attempts = CASE WHEN $4 THEN attempts + 1 ELSE 0 END,"
        " last_error = CASE WHEN $4 THEN $5 ELSE last_error END"
        " WHERE generation_id = $1 AND (lease_owner = $2 OR lease_owner IS NULL)",
        generation_id,
        owner,
        delay_seconds,
        failed,
        error,
    )


async def mark_submitting(conn: Queryable, generation_id: UUID, submitting: bool) -> None:
    """Note a submit in flight (or, False, one the provider certainly refused)."""
    await conn.execute(
        "UPDATE generation_jobs SET submitted_at = CASE WHEN $2 THEN now() END"
        " WHERE generation_id = $1",
        generation_id,
        submitting,
    )


async def wake(conn: Queryable, generation_id: UUID) -> None:
    """Make the job due now (a webhook said something happened)."""
    await conn.execute(
        "UPDATE generation_jobs SET run_at = now() WHERE generation_id = $1", generation_id
    )


async def release_all(conn: Queryable, *, owner: str) -> None:
    """Give back every lease of a worker that is shutting down."""
    await conn.execute(
        "UPDATE generation_jobs SET lease_owner = NULL, lease_expires_at = NULL"
        " WHERE lease_owner = $1",
        owner,
    )


async def delete(conn: Queryable, generation_id: UUID) -> None:
    await conn.execute("DELETE FROM generation_jobs WHERE generation_id = $1", generation_id)
