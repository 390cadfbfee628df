"""The read model as the API sees it: the declaration of fields, lists and owners (from
`db.read_model`), the plan shapes built from it, and running a plan as one JSON statement."""

from __future__ import annotations

from uuid import UUID

from velro_graphql.db import json_reads
from velro_graphql.db.json_reads import Connection, Field, Object, Part
from velro_graphql.db.read_model import (
    LINKS,
    LISTS,
    TABLES,
    Format,
    ListField,
    ListFilter,
    round_fraction,
)
from velro_graphql.db.session import Queryable

__all__ = [
    "LINKS",
    "LISTS",
    "TABLES",
    "Connection",
    "Field",
    "Format",
    "ListField",
    "ListFilter",
    "Object",
    "Part",
    "fetch_json",
    "round_fraction",
]


async def fetch_json(conn: Queryable, user_id: UUID, plan: tuple[Field, ...]) -> str | None:
    """Answer a plan as the `data` object's JSON text; None when a root field is null."""
    return await json_reads.fetch_json_text(conn, user_id, plan)
