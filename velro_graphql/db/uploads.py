"""SQL of the uploads table: staged pictures, their checks, and their housekeeping."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from velro_graphql.db.rows import columns, to_entity
from velro_graphql.db.session import Queryable
from velro_graphql.entities import Upload

_COLUMNS = columns(Upload)


async def insert(conn: Queryable, values: dict[str, Any]) -> Upload:
    """Record a PENDING upload whose bytes are yet to come."""
    row = await conn.fetchrow(
        "INSERT INTO uploads (id, user_id, purpose, filename, content_type, byte_size, bucket,"
        " path, upload_expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
        " now() + make_interval(secs => $9))"
        f" RETURNING {_COLUMNS}",
        values["id"],
        values["user_id"],
        values["purpose"],
        values["filename"],
        values["content_type"],
        values["byte_size"],
        values["bucket"],
        values["path"],
        float(values["expires_in"]),
    )
    return to_entity(Upload, row)


async def by_ids(conn: Queryable, user_id: UUID, ids: list[UUID]) -> list[Upload]:
    """Return the user's uploads among `ids`, in no particular order."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM uploads WHERE user_id = $1 AND id = ANY($2::uuid[])",
        user_id,
        ids,
    )
    return [to_entity(Upload, r) for r in rows]


async def hold_own(conn: Queryable, user_id: UUID, id_: UUID) -> Upload | None:
    """The user's upload, locked until commit (no concurrent completion, use or deletion)."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM uploads WHERE id = $1 AND user_id = $2 FOR UPDATE", id_, user_id
    )
    return to_entity(Upload, row) if row else None


async def pending_at(conn: Queryable, bucket: str, path: str) -> Upload | None:
    """The PENDING upload whose object is `bucket/path` (for local storage's signed PUT)."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM uploads WHERE bucket = $1 AND path = $2 AND status = 'PENDING'",
        bucket,
        path,
    )
    return to_entity(Upload, row) if row else None


_PAGE = f"""
SELECT t.total, {columns(Upload, "u")}
FROM (SELECT count(*) AS total FROM uploads WHERE user_id = $1) AS t
LEFT JOIN LATERAL (
    SELECT * FROM uploads
    WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
    ORDER BY created_at DESC, id DESC
    LIMIT $4
) AS u ON true
"""


async def page_for_user(
    conn: Queryable, user_id: UUID, *, limit: int, after: tuple[datetime, UUID] | None
) -> tuple[list[Upload], int]:
    """Return up to `limit` of the user's uploads, newest first, after a keyset, and the total."""
    created_at, id_ = after if after else (None, None)
    rows = await conn.fetch(_PAGE, user_id, created_at, id_, limit)
    return [to_entity(Upload, r, 1) for r in rows if r["id"] is not None], rows[0]["total"]


async def finish(
    conn: Queryable,
    id_: UUID,
    *,
    size: tuple[int, int] | None,
    byte_size: int | None,
    error: str | None,
) -> Upload:
    """Make an upload READY (with its dimensions and real size) or REJECTED (with why)."""
    width, height = size if size else (None, None)
    row = await conn.fetchrow(
        "UPDATE uploads SET status = CASE WHEN $2::int IS NULL THEN 'REJECTED' ELSE 'READY' END,"
        " width = $2, height = $3, byte_size = coalesce($4, byte_size), error_message = $5,"
        f" completed_at = now() WHERE id = $1 RETURNING {_COLUMNS}",
        id_,
        width,
        height,
        byte_size,
        error,
    )
    return to_entity(Upload, row)


async def in_use(conn: Queryable, id_: UUID) -> bool:
    """Whether a generation was made from the upload."""
    found = await conn.fetchval("SELECT 1 FROM generations WHERE input_upload_id = $1 LIMIT 1", id_)
    return found is not None


async def delete(conn: Queryable, id_: UUID) -> None:
    await conn.execute("DELETE FROM uploads WHERE id = $1", id_)


async def stale_pending(conn: Queryable, *, older_than_seconds: int, limit: int) -> list[Upload]:
    """PENDING uploads created longer ago than `older_than_seconds`, locked for deletion."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM uploads WHERE status = 'PENDING'"
        " AND created_at < now() - make_interval(secs => $1)"
        " ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        float(older_than_seconds),
        limit,
    )
    return [to_entity(Upload, r) for r in rows]


async def delete_many(conn: Queryable, ids: list[UUID]) -> None:
    await conn.execute("DELETE FROM uploads WHERE id = ANY($1::uuid[])", ids)
