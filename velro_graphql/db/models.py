"""SQL of the models table: the catalog, owned by the database (each row's `entry` is the model
as the catalog file spells it; the columns beside it are kept from it for SQL)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from velro_graphql.db.session import Queryable

_VALUES = """
SELECT * FROM jsonb_to_recordset($1::jsonb) AS m (
    id text, name text, media_type text, credits integer, deprecated boolean,
    parameters jsonb, deadline_seconds integer, entry jsonb, position integer)
"""
_INSERT = f"""
INSERT INTO models (id, name, media_type, credits, deprecated, parameters, deadline_seconds,
    entry, position)
{_VALUES}
ON CONFLICT (id) DO UPDATE SET
    name = excluded.name, media_type = excluded.media_type, credits = excluded.credits,
    deprecated = excluded.deprecated, parameters = excluded.parameters,
    deadline_seconds = excluded.deadline_seconds, entry = excluded.entry,
    position = excluded.position
"""


async def seed(conn: Queryable, rows: Sequence[dict[str, Any]]) -> None:
    """Add the models the database has never had; fill rows mirrored before it owned the
    catalog; leave every other row as the operators left it."""
    await conn.execute(_INSERT + " WHERE models.entry IS NULL", rows)


async def write(conn: Queryable, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or replace these models."""
    if rows:
        await conn.execute(_INSERT, rows)


async def entries(conn: Queryable, *, for_update: bool = False) -> list[dict[str, Any]]:
    """Every model's entry, in catalog order (locked against other writers when asked)."""
    rows = await conn.fetch(
        "SELECT entry FROM models WHERE entry IS NOT NULL ORDER BY position NULLS LAST, id"
        + (" FOR UPDATE" if for_update else "")
    )
    return [row["entry"] for row in rows]


async def lock(conn: Queryable) -> None:
    """Serialise writers of the catalog until the transaction ends (readers go on)."""
    await conn.execute("LOCK TABLE models IN SHARE ROW EXCLUSIVE MODE")
