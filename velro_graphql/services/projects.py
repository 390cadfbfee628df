"""Projects: a user's folders of generations."""

from __future__ import annotations

from uuid import UUID

from velro_graphql.db import projects
from velro_graphql.db.pool import Pool
from velro_graphql.db.projects import Filter as Filter
from velro_graphql.db.read_model import PROJECT_ORDERINGS
from velro_graphql.db.session import Queryable, as_caller
from velro_graphql.entities import Caller, Page, Project
from velro_graphql.errors import BadUserInput, NotFound
from velro_graphql.services.pagination import PageArgs, keyset_page, page_query

VISIBILITIES = ("private", "public")
MAX_TAGS = 20


async def list_projects(
    conn: Queryable, user_id: UUID, args: PageArgs, filter_: Filter
) -> Page[Project]:
    """Return one page of the user's projects matching the filter, in the asked order."""
    query = page_query(args, PROJECT_ORDERINGS, filter_)
    rows, total = await projects.page_for_user(conn, user_id, query)
    return keyset_page(rows, query, total)


async def get_projects(conn: Queryable, user_id: UUID, ids: list[UUID]) -> list[Project]:
    return await projects.by_ids(conn, user_id, ids)


async def create_project(
    pool: Pool,
    caller: Caller,
    *,
    name: str,
    description: str | None,
    visibility: str,
    tags: list[str] | None = None,
) -> Project:
    """Create a project owned by the caller."""
    async with as_caller(pool, caller.claims) as conn:
        return await projects.insert(
            conn,
            user_id=caller.user_id,
            name=_check_name(name),
            description=_check_description(description) or "",
            visibility=_check_visibility(visibility),
            tags=_check_tags(tags or []),
        )


async def update_project(
    pool: Pool,
    caller: Caller,
    project_id: UUID,
    *,
    name: str | None = None,
    description: str | None = None,
    visibility: str | None = None,
    tags: list[str] | None = None,
) -> Project:
    """Change the given fields of one of the caller's projects."""
    async with as_caller(pool, caller.claims) as conn:
        project = await projects.update(
            conn,
            caller.user_id,
            project_id,
            name=None if name is None else _check_name(name),
            description=_check_description(description),
            visibility=None if visibility is None else _check_visibility(visibility),
            tags=None if tags is None else _check_tags(tags),
        )
    if project is None:
        raise NotFound("No such project.", field="id")
    return project


async def delete_project(pool: Pool, caller: Caller, project_id: UUID) -> None:
    """Delete one of the caller's projects; its generations stay, outside any project."""
    async with as_caller(pool, caller.claims) as conn:
        if not await projects.delete(conn, caller.user_id, project_id):
            raise NotFound("No such project.", field="id")


def _check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise BadUserInput("name must be 1 to 100 characters.", field="name")
    return name


def _check_description(description: str | None) -> str | None:
    if description is not None and len(description) > 500:
        raise BadUserInput("description must be at most 500 characters.", field="description")
    return description


def _check_visibility(visibility: str) -> str:
    if visibility not in VISIBILITIES:
        raise BadUserInput("visibility must be private or public.", field="visibility")
    return visibility


def _check_tags(tags: list[str]) -> list[str]:
    """Tags trimmed, duplicates dropped (first kept): at most 20, each 1 to 30 characters."""
    cleaned = list(dict.fromkeys(tag.strip() for tag in tags))
    if len(cleaned) > MAX_TAGS:
        raise BadUserInput(f"A project has at most {MAX_TAGS} tags.", field="tags")
    if not all(1 <= len(tag) <= 30 for tag in cleaned):
        raise BadUserInput("Each tag must be 1 to 30 characters.", field="tags")
    return cleaned
