"""SQL of the projects table."""

from __future__ import annotations

from uuid import UUID

from velro_graphql.db.read_model import LISTS, TABLES, optional_after_keyset, order_by
from velro_graphql.db.rows import columns, to_entity
from velro_graphql.db.session import Queryable
from velro_graphql.entities import Project

_COLUMNS = columns(Project)
_P_COLUMNS = columns(Project, "p")


async def by_ids(conn: Queryable, user_id: UUID, ids: list[UUID]) -> list[Project]:
    """Return the user's projects among `ids`, in no particular order."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM projects WHERE user_id = $1 AND id = ANY($2::uuid[])",
        user_id,
        ids,
    )
    return [to_entity(Project, r) for r in rows]


_TABLE = TABLES["Project"]
_KEYSET = LISTS[("Query", "projects")].keyset

_PAGE = f"""
SELECT t.total, {_P_COLUMNS}
FROM (SELECT count(*) AS total FROM {_TABLE.name} WHERE {_TABLE.owner} = $1) AS t
LEFT JOIN LATERAL (
    SELECT * FROM {_TABLE.name}
    WHERE {_TABLE.owner} = $1 AND {optional_after_keyset(_KEYSET, 2)}
    ORDER BY {order_by(_KEYSET)}
    LIMIT $4
) AS p ON true
"""


async def page_for_user(
    conn: Queryable, user_id: UUID, *, limit: int, after: tuple[object, UUID] | None
) -> tuple[list[Project], int]:
    """Return up to `limit` of the user's projects, newest first, after a keyset, and the total."""
    created_at, id_ = after if after else (None, None)
    rows = await conn.fetch(_PAGE, user_id, created_at, id_, limit)
    total = rows[0]["total"]
    return [to_entity(Project, r, 1) for r in rows if r["id"] is not None], total


async def insert(
    conn: Queryable, *, user_id: UUID, name: str, description: str, visibility: str
) -> Project:
    row = await conn.fetchrow(
        "INSERT INTO projects (user_id, name, description, visibility) VALUES ($1, $2, $3, $4) "
        f"RETURNING {_COLUMNS}",
        user_id,
        name,
        description,
        visibility,
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
) -> Project | None:
    """Change the given fields of the user's project; None when it is not theirs."""
    row = await conn.fetchrow(
        "UPDATE projects SET name = coalesce($3, name), "
        "description = coalesce($4, description), visibility = coalesce($5, visibility) "
        f"WHERE user_id = $1 AND id = $2 RETURNING {_COLUMNS}",
        user_id,
        id_,
        name,
        description,
        visibility,
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
