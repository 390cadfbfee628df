"""SQL of the generations table: reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from velro_graphql.db.read_model import (
    LISTS,
    TABLES,
    optional_after_keyset,
    optional_filters,
    order_by,
)
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


_TABLE = TABLES["Generation"]
_ALL = LISTS[("Query", "generations")]
_OF_PROJECT = LISTS[("Project", "generations")]

# $5.. are the declared filters, in order.
_MATCH = f"{_TABLE.owner} = $1{optional_filters(_ALL.filters, 5)}"

_PAGE = f"""
SELECT t.total, {_G_COLUMNS}
FROM (SELECT count(*) AS total FROM {_TABLE.name} WHERE {_MATCH}) AS t
LEFT JOIN LATERAL (
    SELECT * FROM {_TABLE.name}
    WHERE {_MATCH} AND {optional_after_keyset(_ALL.keyset, 2)}
    ORDER BY {order_by(_ALL.keyset)}
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
        *(getattr(filter_, f.column) for f in _ALL.filters.values()),
    )
    return [to_entity(Generation, r, 1) for r in rows if r["id"] is not None], rows[0]["total"]


_OF_PARENT = f"{_TABLE.owner} = $1 AND {_OF_PROJECT.parent_column} = k.parent_id"

_PAGES_BY_PROJECT = f"""
SELECT k.parent_id AS key, t.total, {_G_COLUMNS}
FROM unnest($2::uuid[]) AS k (parent_id)
CROSS JOIN LATERAL (SELECT count(*) AS total FROM {_TABLE.name} WHERE {_OF_PARENT}) AS t
LEFT JOIN LATERAL (
    SELECT * FROM {_TABLE.name}
    WHERE {_OF_PARENT} AND {optional_after_keyset(_OF_PROJECT.keyset, 3)}
    ORDER BY {order_by(_OF_PROJECT.keyset)}
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
