"""Generations: reads, in the operation's caller session (connection first)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from velro_graphql.db import generations, outputs
from velro_graphql.db.generations import Filter
from velro_graphql.db.session import Queryable
from velro_graphql.entities import Generation, Output, Page
from velro_graphql.services.pagination import (
    check_first,
    decode_time_key,
    encode_time_key,
    make_page,
)

__all__ = [
    "Filter",
    "changed_since",
    "cursor_of",
    "get_generations",
    "get_outputs",
    "list_by_projects",
    "list_generations",
]


async def list_generations(
    conn: Queryable,
    user_id: UUID,
    *,
    first: int | None,
    after: str | None,
    filter_: Filter,
) -> Page[Generation]:
    """Return one page of the user's generations matching the filter, newest first."""
    size = check_first(first)
    rows, total = await generations.page_for_user(
        conn, user_id, limit=size + 1, after=decode_time_key(after), filter_=filter_
    )
    return make_page(rows, first=size, total_count=total, cursor_of=cursor_of)


async def changed_since(
    conn: Queryable, user_id: UUID, since: datetime, *, project_id: UUID | None, limit: int
) -> list[Generation]:
    """Return the user's generations (or one project's) changed since `since`, latest first."""
    return await generations.changed_since(conn, user_id, since, project_id=project_id, limit=limit)


async def list_by_projects(
    conn: Queryable,
    user_id: UUID,
    project_ids: list[UUID],
    *,
    first: int | None,
    after: str | None,
) -> dict[UUID, Page[Generation]]:
    """Return one page of generations for each project, in one round trip."""
    size = check_first(first)
    pages = await generations.pages_for_projects(
        conn, user_id, project_ids, limit=size + 1, after=decode_time_key(after)
    )
    return {
        project_id: make_page(rows, first=size, total_count=total, cursor_of=cursor_of)
        for project_id, (rows, total) in pages.items()
    }


async def get_generations(conn: Queryable, user_id: UUID, ids: list[UUID]) -> list[Generation]:
    return await generations.by_ids(conn, user_id, ids)


async def get_outputs(
    conn: Queryable, user_id: UUID, generation_ids: list[UUID]
) -> dict[UUID, list[Output]]:
    return await outputs.by_generations(conn, user_id, generation_ids)


def cursor_of(generation: Generation) -> str:
    return encode_time_key(generation.created_at, generation.id)
