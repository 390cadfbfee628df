"""The Mutation root: unpack the input, call one service, report user errors as data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry

from velro_graphql.api.context import Context
from velro_graphql.api.types.payloads import (
    CreateProjectInput,
    CreateProjectPayload,
    DeleteProjectInput,
    DeleteProjectPayload,
    UpdateProjectInput,
    UpdateProjectPayload,
    UserError,
    user_errors,
)
from velro_graphql.api.types.project import Project
from velro_graphql.api.types.relay import expect_global_id
from velro_graphql.errors import RateLimited, Unauthenticated, VelroError
from velro_graphql.services import projects

Info = strawberry.Info[Context]
T = TypeVar("T")

# Errors about the request as a whole stay top-level `errors`; the rest are the user's to fix.
_REQUEST_ERRORS = (Unauthenticated, RateLimited)


async def attempt(call: Callable[[], Awaitable[T]]) -> tuple[T | None, list[UserError]]:
    """Run a service call, turning the errors a user can fix into `userErrors`."""
    try:
        return await call(), []
    except VelroError as error:
        if isinstance(error, _REQUEST_ERRORS):
            raise
        return None, user_errors(error)


@strawberry.type
class ProjectMutation:
    @strawberry.mutation(description="Create a project owned by the caller.")
    async def create_project(self, info: Info, input: CreateProjectInput) -> CreateProjectPayload:
        ctx = info.context
        project, errors = await attempt(
            lambda: projects.create_project(
                ctx.services.pool,
                ctx.caller,
                name=input.name,
                description=input.description,
                visibility=input.visibility.value,
                tags=input.tags,
            )
        )
        return CreateProjectPayload(
            project=Project.from_entity(project) if project else None, user_errors=errors
        )

    @strawberry.mutation(description="Change the given fields of one of the caller's projects.")
    async def update_project(self, info: Info, input: UpdateProjectInput) -> UpdateProjectPayload:
        ctx = info.context
        project, errors = await attempt(
            lambda: projects.update_project(
                ctx.services.pool,
                ctx.caller,
                expect_global_id(input.id, "Project"),
                name=input.name,
                description=input.description,
                visibility=input.visibility.value if input.visibility else None,
                tags=input.tags,
            )
        )
        return UpdateProjectPayload(
            project=Project.from_entity(project) if project else None, user_errors=errors
        )

    @strawberry.mutation(description="Delete a project; its generations stay, outside any project.")
    async def delete_project(self, info: Info, input: DeleteProjectInput) -> DeleteProjectPayload:
        ctx = info.context
        _, errors = await attempt(
            lambda: projects.delete_project(
                ctx.services.pool, ctx.caller, expect_global_id(input.id, "Project")
            )
        )
        return DeleteProjectPayload(
            deleted_project_id=None if errors else input.id, user_errors=errors
        )
