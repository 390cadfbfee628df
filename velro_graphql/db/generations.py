"""SQL of the generations table: reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from velro_graphql.db.rows import columns, to_entity
from velro_graphql.db.session import Queryable
from velro_graphql.entities import Generation

COLUMNS = columns(Generation)
_G_COLUMNS = columns(Generation, "g")


@dataclass(frozen=True, slots=True)
class Filter:
    status: str | None = None
    project_id: UUID | None = None
    model_id: str | None = None


async def by_ids(conn: Queryable, user_id: UUID, ids: list[UUID]) -> list[Generation]:
    """Return the user's generations among `ids`, in no particular order."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM generations WHERE user_id = $1 AND id = ANY($2::uuid[])",
        user_id,
        ids,
    )
    return [to_entity(Generation, r) for r in rows]


async def changed_since(
    conn: Queryable, user_id: UUID, since: datetime, *, project_id: UUID | None, limit: int
) -> list[Generation]:
    """Return the user's generations changed at or after `since`, latest change first."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM generations WHERE user_id = $1 AND updated_at >= $2"
        " AND ($3::uuid IS NULL OR project_id = $3) ORDER BY updated_at DESC LIMIT $4",
        user_id,
        since,
        project_id,
        limit,
    )
    return [to_entity(Generation, r) for r in rows]


# $5..$7 are optional filters; `IS NULL OR` keeps one statement text for every combination.
_MATCH = """
    user_id = $1
    AND ($5::text IS NULL OR status = $5)
    AND ($6::uuid IS NULL OR project_id = $6)
    AND ($7::text IS NULL OR model_id = $7)
"""

_PAGE = f"""
SELECT t.total, {_G_COLUMNS}
FROM (SELECT count(*) AS total FROM generations WHERE {_MATCH}) AS t
LEFT JOIN LATERAL (
    SELECT * FROM generations
    WHERE {_MATCH} AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
    ORDER BY created_at DESC, id DESC
    LIMIT $4
) AS g ON true
"""


async def page_for_user(
    conn: Queryable,
    user_id: UUID,
    *,
    limit: int,
    after: tuple[object, UUID] | None,
    filter_: Filter,
) -> tuple[list[Generation], int]:
    """Return up to `limit` of the user's matching generations, newest first, and the total."""
    created_at, id_ = after if after else (None, None)
    rows = await conn.fetch(
        _PAGE,
        user_id,
        created_at,
        id_,
        limit,
        filter_.status,
        filter_.project_id,
        filter_.model_id,
    )
    return [to_entity(Generation, r, 1) for r in rows if r["id"] is not None], rows[0]["total"]


_PAGES_BY_PROJECT = f"""
SELECT k.project_id AS key, t.total, {_G_COLUMNS}
FROM unnest($2::uuid[]) AS k (project_id)
CROSS JOIN LATERAL (
    SELECT count(*) AS total FROM generations WHERE user_id = $1 AND project_id = k.project_id
) AS t
LEFT JOIN LATERAL (
    SELECT * FROM generations
    WHERE user_id = $1 AND project_id = k.project_id
      AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
    ORDER BY created_at DESC, id DESC
    LIMIT $5
) AS g ON true
"""


async def pages_for_projects(
    conn: Queryable,
    user_id: UUID,
    project_ids: list[UUID],
    *,
    limit: int,
    after: tuple[object, UUID] | None,
) -> dict[UUID, tuple[list[Generation], int]]:
    """Return one page of generations per project, all in one statement."""
    created_at, id_ = after if after else (None, None)
    rows = await conn.fetch(_PAGES_BY_PROJECT, user_id, project_ids, created_at, id_, limit)
    pages: dict[UUID, tuple[list[Generation], int]] = {p: ([], 0) for p in project_ids}
    for row in rows:
        items, _ = pages[row["key"]]
        if row["id"] is not None:
            items.append(to_entity(Generation, row, 2))
        pages[row["key"]] = (items, row["total"])
    return pages


async def project_of(conn: Queryable, id_: UUID) -> UUID | None:
    found: UUID | None = await conn.fetchval(
        "SELECT project_id FROM generations WHERE id = $1", id_
    )
    return found
