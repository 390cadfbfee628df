"""Organising generations: favourites and moves between projects."""

from __future__ import annotations

from uuid import UUID

from velro_graphql.db import generation_updates as updates
from velro_graphql.db import projects
from velro_graphql.db.session import as_service
from velro_graphql.entities import Caller, Generation
from velro_graphql.errors import NotFound
from velro_graphql.services.runtime import Runtime


async def set_favorite(
    rt: Runtime, caller: Caller, generation_id: UUID, *, favorite: bool
) -> Generation:
    """Mark or unmark one of the caller's generations as a favourite."""
    async with as_service(rt.pool) as conn:
        found = await updates.set_favorite(conn, caller.user_id, generation_id, favorite)
    if found is None:
        raise NotFound("No such generation.", field="id")
    return found


async def move_generation(
    rt: Runtime, caller: Caller, generation_id: UUID, *, project_id: UUID | None
) -> Generation:
    """File one of the caller's generations in one of their projects, or in none. Both
    projects' counts change with it and subscribers of both hear of it."""
    async with as_service(rt.pool) as conn:
        if project_id is not None and not await projects.hold_own(conn, caller.user_id, project_id):
            raise NotFound("No such project.", field="projectId")
        found = await updates.set_project(conn, caller.user_id, generation_id, project_id)
    if found is None:
        raise NotFound("No such generation.", field="id")
    return found
