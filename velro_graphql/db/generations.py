"""SQL of the generations table: reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from velro_graphql.db.pages import PageQuery, fetch_pages
from velro_graphql.db.rows import columns, to_entity
from velro_graphql.db.session import Queryable
from velro_graphql.entities import Generation

COLUMNS = columns(Generation)


@dataclass(frozen=True, slots=True)
class Filter:
    """The values of the declared generation filters (None: not filtering)."""

    status: str | None = None
    project_id: UUID | None = None
    model_id: str | None = None
    media_type: str | None = None
    favorite: bool | None = None
    search: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


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


async def page_for_user(
    conn: Queryable, user_id: UUID, query: PageQuery
) -> tuple[list[Generation], int]:
    """Return one page of the user's matching generations in the query's order, and the total."""
    pages = await fetch_pages(conn, Generation, ("Query", "generations"), user_id, None, query)
    return pages[None]


async def pages_for_projects(
    conn: Queryable, user_id: UUID, project_ids: list[UUID], query: PageQuery
) -> dict[UUID | None, tuple[list[Generation], int]]:
    """Return one page of generations per project, all in one statement."""
    return await fetch_pages(
        conn, Generation, ("Project", "generations"), user_id, project_ids, query
    )


async def project_of(conn: Queryable, id_: UUID) -> UUID | None:
    found: UUID | None = await conn.fetchval(
        "SELECT project_id FROM generations WHERE id = $1", id_
    )
    return found
