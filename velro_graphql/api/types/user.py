"""User: the signed-in caller's profile and balance."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import strawberry

from velro_graphql import entities
from velro_graphql.api.types.project import Project
from velro_graphql.api.types.relay import Connection, Node, connection_from, to_global_id
from velro_graphql.api.types.upload import load_upload
from velro_graphql.services import projects

if TYPE_CHECKING:
    from velro_graphql.api.context import Context


@strawberry.type
class User(Node):
    id: strawberry.ID
    email: str | None
    display_name: str | None
    plan: str
    credits_balance: int
    created_at: datetime
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

    @strawberry.field(description="The user's projects, newest first.")
    async def projects(
        self, info: strawberry.Info[Context], first: int | None = None, after: str | None = None
    ) -> Connection[Project]:
        return await list_projects(info.context, first=first, after=after)


async def list_projects(
    context: Context, *, first: int | None, after: str | None
) -> Connection[Project]:
    page = await projects.list_projects(
        context.session, context.caller.user_id, first=first, after=after
    )
    context.loaders.prime(context.loaders.project_by_id, page.items)
    return connection_from(page, Project.from_entity, after=after is not None)
