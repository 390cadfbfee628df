"""User: the signed-in caller's profile and balance."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import strawberry

from velro_graphql import entities
from velro_graphql.api.types.lists import ProjectFilter, ProjectOrder, page_args, project_filter
from velro_graphql.api.types.project import Project
from velro_graphql.api.types.relay import Connection, Node, connection_from, to_global_id
from velro_graphql.api.types.stats import Stats
from velro_graphql.api.types.upload import load_upload
from velro_graphql.services import projects
from velro_graphql.services.pagination import PageArgs
from velro_graphql.services.stats import usage_of

if TYPE_CHECKING:
    from velro_graphql.api.context import Context


@strawberry.type(description="The signed-in user: profile, balance and usage.")
class User(Node):
    id: strawberry.ID = strawberry.field(description="Global id.")
    email: str | None = strawberry.field(description="The sign-in email.")
    display_name: str | None = strawberry.field(description="The name shown to others.")
    plan: str = strawberry.field(description="free, pro or team.")
    credits_balance: int = strawberry.field(description="Credits left to spend.")
    created_at: datetime = strawberry.field(description="When the account was made.")
    entity: strawberry.Private[entities.Profile]

    @classmethod
    def from_entity(cls, profile: entities.Profile) -> User:
        return cls(
            id=to_global_id("User", profile.id),
            email=profile.email,
            display_name=profile.display_name,
            plan=profile.plan,
            credits_balance=profile.credits_balance,
            created_at=profile.created_at,
            entity=profile,
        )

    @strawberry.field(description="A signed URL of the avatar, valid for expiresIn seconds.")
    async def avatar_url(
        self, info: strawberry.Info[Context], expires_in: int | None = None
    ) -> str | None:
        avatar = await load_upload(info.context, self.entity.avatar_upload_id)
        return await avatar.url(info, expires_in) if avatar else None

    @strawberry.field(description="The user's projects, by default newest first.")
    async def projects(
        self,
        info: strawberry.Info[Context],
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: ProjectFilter | None = None,
        order_by: ProjectOrder | None = None,
    ) -> Connection[Project]:
        args = page_args(first, after, last, before, order_by)
        return await list_projects(info.context, args, filter)

    @strawberry.field(description="Usage: generations by status and model, credits, storage.")
    async def stats(self, info: strawberry.Info[Context]) -> Stats:
        ctx = info.context
        return Stats.from_usage(await usage_of(ctx.session, ctx.caller.user_id))


async def list_projects(
    context: Context, args: PageArgs, filter_: ProjectFilter | None
) -> Connection[Project]:
    page = await projects.list_projects(
        context.session, context.caller.user_id, args, project_filter(filter_)
    )
    context.loaders.prime(context.loaders.project_by_id, page.items)
    return connection_from(page, Project.from_entity)
