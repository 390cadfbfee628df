"""Generations: reads, in the operation's caller session (connection first)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from velro_graphql.db import generations, outputs
from velro_graphql.db.generations import Filter
from velro_graphql.db.read_model import GENERATION_ORDERINGS
from velro_graphql.db.session import Queryable
from velro_graphql.entities import Generation, Output, Page
from velro_graphql.services.pagination import PageArgs, keyset_page, page_query

__all__ = [
    "Filter",
    "PageArgs",
    "changed_since",
    "get_generations",
    "get_outputs",
    "list_by_projects",
    "list_generations",
]


async def list_generations(
    conn: Queryable, user_id: UUID, args: PageArgs, filter_: Filter
) -> Page[Generation]:
    """Return one page of the user's generations matching the filter, in the asked order."""
    query = page_query(args, GENERATION_ORDERINGS, filter_)
    rows, total = await generations.page_for_user(conn, user_id, query)
    return keyset_page(rows, query, total)


async def changed_since(
    conn: Queryable, user_id: UUID, since: datetime, *, project_id: UUID | None, limit: int
) -> list[Generation]:
    """Return the user's generations (or one project's) changed since `since`, latest first."""
    return await generations.changed_since(conn, user_id, since, project_id=project_id, limit=limit)


async def list_by_projects(
    conn: Queryable, user_id: UUID, project_ids: list[UUID], args: PageArgs, filter_: Filter
) -> dict[UUID, Page[Generation]]:
    """Return one page of generations for each project, in one round trip."""
    query = page_query(args, GENERATION_ORDERINGS, filter_)
    pages = await generations.pages_for_projects(conn, user_id, project_ids, query)
    return {p: keyset_page(rows, query, total) for p, (rows, total) in pages.items() if p}


async def get_generations(conn: Queryable, user_id: UUID, ids: list[UUID]) -> list[Generation]:
    return await generations.by_ids(conn, user_id, ids)


async def get_outputs(
    conn: Queryable, user_id: UUID, generation_ids: list[UUID]
) -> dict[UUID, list[Output]]:
    return await outputs.by_generations(conn, user_id, generation_ids)
