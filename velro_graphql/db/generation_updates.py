"""SQL of the generations table: creation and every change of state."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from velro_graphql.db.generations import COLUMNS
from velro_graphql.db.rows import to_entity
from velro_graphql.db.session import Queryable
from velro_graphql.entities import UNFINISHED_STATUSES, Generation

_UNFINISHED = "({})".format(", ".join(f"'{status}'" for status in UNFINISHED_STATUSES))


async def insert(conn: Queryable, values: dict[str, Any]) -> Generation | None:
    """Insert a generation; None when the user already used its idempotency key."""
    row = await conn.fetchrow(
        "INSERT INTO generations (user_id, project_id, model_id, parent_id, prompt,"
        " negative_prompt, image_url, parameters, cost, provider, idempotency_key, deadline_at,"
        " input_hash, input_upload_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
        " now() + make_interval(secs => $12), $13, $14)"
        " ON CONFLICT (user_id, idempotency_key) DO NOTHING"
        f" RETURNING {COLUMNS}",
        values["user_id"],
        values["project_id"],
        values["model_id"],
        values["parent_id"],
        values["prompt"],
        values["negative_prompt"],
        values["image_url"],
        values["parameters"],
        values["cost"],
        values["provider"],
        values["idempotency_key"],
        float(values["deadline_seconds"]),
        values["input_hash"],
        values["input_upload_id"],
    )
    return to_entity(Generation, row) if row else None


async def by_idempotency_key(
    conn: Queryable, user_id: UUID, key: str
) -> tuple[Generation, str | None] | None:
    """The generation a user's idempotency key made, with the hash of its start input."""
    row = await conn.fetchrow(
        f"SELECT {COLUMNS}, input_hash FROM generations"
        " WHERE user_id = $1 AND idempotency_key = $2",
        user_id,
        key,
    )
    return (to_entity(Generation, row), row["input_hash"]) if row else None


async def get(conn: Queryable, id_: UUID) -> Generation | None:
    """Read any user's generation (for the worker; API reads go through `generations.by_ids`)."""
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM generations WHERE id = $1", id_)
    return to_entity(Generation, row) if row else None


async def by_provider_request(conn: Queryable, provider: str, request_id: str) -> UUID | None:
    found: UUID | None = await conn.fetchval(
        "SELECT id FROM generations WHERE provider = $1 AND provider_request_id = $2",
        provider,
        request_id,
    )
    return found


async def set_request_id(conn: Queryable, id_: UUID, request_id: str) -> bool:
    """Record the provider's request id; False when the generation already has one or ended."""
    status = await conn.execute(
        "UPDATE generations SET provider_request_id = $2"
        f" WHERE id = $1 AND provider_request_id IS NULL AND status IN {_UNFINISHED}",
        id_,
        request_id,
    )
    return status == "UPDATE 1"


async def record_progress(
    conn: Queryable,
    id_: UUID,
    *,
    status: str,
    queue_position: int | None,
    progress: float | None,
    logs: list[dict[str, Any]],
) -> None:
    """Store what the provider reports of an unfinished generation (only if it changed)."""
    await conn.execute(
        "UPDATE generations SET status = $2, queue_position = $3, progress = $4, logs = $5,"
        " started_at = CASE WHEN $2 = 'IN_PROGRESS' THEN coalesce(started_at, now())"
        " ELSE started_at END"
        f" WHERE id = $1 AND status IN {_UNFINISHED} AND (status, queue_position, progress, logs)"
        " IS DISTINCT FROM ($2, $3, $4, $5::jsonb)",
        id_,
        status,
        queue_position,
        progress,
        logs,
    )


async def record_support(
    conn: Queryable, id_: UUID, *, logs: list[dict[str, Any]], timings: dict[str, float] | None
) -> None:
    """Keep a finishing generation's final logs (when there are any) and provider timings."""
    await conn.execute(
        "UPDATE generations SET provider_timings = $3,"
        " logs = CASE WHEN jsonb_array_length($2::jsonb) > 0 THEN $2::jsonb ELSE logs END"
        f" WHERE id = $1 AND status IN {_UNFINISHED}",
        id_,
        logs,
        timings,
    )


async def finish(
    conn: Queryable,
    id_: UUID,
    *,
    status: str,
    error_code: str | None = None,
    error_message: str | None = None,
    user_id: UUID | None = None,
) -> Generation | None:
    """Move an unfinished generation to a terminal status; None when it was already finished."""
    row = await conn.fetchrow(
        "UPDATE generations SET status = $2, error_code = $3, error_message = $4,"
        " completed_at = now(), queue_position = NULL,"
        " progress = CASE WHEN $2 = 'COMPLETED' THEN 1 ELSE progress END,"
        # A request can finish between two polls without ever being seen IN_PROGRESS.
        " started_at = CASE WHEN $2 = 'COMPLETED' THEN coalesce(started_at, now())"
        " ELSE started_at END"
        f" WHERE id = $1 AND status IN {_UNFINISHED} AND ($5::uuid IS NULL OR user_id = $5)"
        f" RETURNING {COLUMNS}",
        id_,
        status,
        error_code,
        error_message,
        user_id,
    )
    return to_entity(Generation, row) if row else None


async def overdue(conn: Queryable, *, limit: int) -> list[UUID]:
    """Unfinished generations past their deadline, oldest deadline first."""
    rows = await conn.fetch(
        f"SELECT id FROM generations WHERE status IN {_UNFINISHED} AND deadline_at < now()"
        " ORDER BY deadline_at LIMIT $1",
        limit,
    )
    return [r["id"] for r in rows]


async def delete(conn: Queryable, user_id: UUID, id_: UUID) -> bool:
    status = await conn.execute(
        "DELETE FROM generations WHERE id = $1 AND user_id = $2", id_, user_id
    )
    return status == "DELETE 1"


async def set_favorite(
    conn: Queryable, user_id: UUID, id_: UUID, favorite: bool
) -> Generation | None:
    """Mark or unmark the user's generation; None when it is not theirs."""
    row = await conn.fetchrow(
        f"UPDATE generations SET favorite = $3 WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}",
        id_,
        user_id,
        favorite,
    )
    return to_entity(Generation, row) if row else None


async def set_project(
    conn: Queryable, user_id: UUID, id_: UUID, project_id: UUID | None
) -> Generation | None:
    """File the user's generation in a project (None: in none); None when it is not theirs.
    The caller has checked that the project is theirs; triggers keep the counts."""
    row = await conn.fetchrow(
        "UPDATE generations SET project_id = $3 WHERE id = $1 AND user_id = $2"
        f" RETURNING {COLUMNS}",
        id_,
        user_id,
        project_id,
    )
    return to_entity(Generation, row) if row else None
