"""SQL of the projects table."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from velro_graphql.db.pages import PageQuery, fetch_pages
from velro_graphql.db.rows import columns, to_entity
from velro_graphql.db.session import Queryable
from velro_graphql.entities import Project

_COLUMNS = columns(Project)


async def by_ids(conn: Queryable, user_id: UUID, ids: list[UUID]) -> list[Project]:
    """Return the user's projects among `ids`, in no particular order."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM projects WHERE user_id = $1 AND id = ANY($2::uuid[])",
        user_id,
        ids,
    )
    return [to_entity(Project, r) for r in rows]


@dataclass(frozen=True, slots=True)
class Filter:
    """The values of the declared project filters (None: not filtering)."""

    search: str | None = None
    tag: str | None = None


async def page_for_user(
    conn: Queryable, user_id: UUID, query: PageQuery
) -> tuple[list[Project], int]:
    """Return one page of the user's matching projects in the query's order, and the total."""
    pages = await fetch_pages(conn, Project, ("Query", "projects"), user_id, None, query)
    return pages[None]


async def insert(
    conn: Queryable,
    *,
    user_id: UUID,
    name: str,
    description: str,
    visibility: str,
    tags: list[str],
) -> Project:
    row = await conn.fetchrow(
        "INSERT INTO projects (user_id, name, description, visibility, tags)"
        f" VALUES ($1, $2, $3, $4, $5) RETURNING {_COLUMNS}",
        user_id,
        name,
        description,
        visibility,
        tags,
    )
    return to_entity(Project, row)


async def update(
    conn: Queryable,
    user_id: UUID,
    id_: UUID,
    *,
    name: str | None,
    description: str | None,
    visibility: str | None,
    tags: list[str] | None,
) -> Project | None:
    """Change the given fields of the user's project; None when it is not theirs."""
    row = await conn.fetchrow(
        "UPDATE projects SET name = coalesce($3, name), "
        "description = coalesce($4, description), visibility = coalesce($5, visibility), "
        f"tags = coalesce($6, tags) WHERE user_id = $1 AND id = $2 RETURNING {_COLUMNS}",
        user_id,
        id_,
        name,
        description,
        visibility,
        tags,
    )
    return to_entity(Project, row) if row else None


async def delete(conn: Queryable, user_id: UUID, id_: UUID) -> bool:
    """Delete the user's project (its generations stay, without a project)."""
    status = await conn.execute("DELETE FROM projects WHERE user_id = $1 AND id = $2", user_id, id_)
    return status == "DELETE 1"


async def hold_own(conn: Queryable, user_id: UUID, id_: UUID) -> bool:
    """Whether the project is the user's; if so, keep it from being deleted until commit."""
    found = await conn.fetchval(
        "SELECT 1 FROM projects WHERE id = $1 AND user_id = $2 FOR SHARE", id_, user_id
    )
    return found is not None
