"""Project: a user's folder of generations."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import strawberry

from velro_graphql import entities
from velro_graphql.api.types.enums import Visibility
from velro_graphql.api.types.lists import (
    GenerationFilter,
    GenerationOrder,
    generation_filter,
    page_args,
)
from velro_graphql.api.types.relay import Connection, Node, connection_from, to_global_id
from velro_graphql.api.types.stats import Stats
from velro_graphql.services.stats import usage_of

if TYPE_CHECKING:
    from velro_graphql.api.context import Context
    from velro_graphql.api.types.generation import Generation

_Generation = Annotated["Generation", strawberry.lazy("velro_graphql.api.types.generation")]


@strawberry.type(description="A user's folder of generations.")
class Project(Node):
    id: strawberry.ID = strawberry.field(description="Global id.")
    name: str = strawberry.field(description="1 to 100 characters.")
    description: str = strawberry.field(description="At most 500 characters.")
    visibility: Visibility = strawberry.field(description="Who may see it.")
    tags: list[str] = strawberry.field(description="At most 20, each 1 to 30 characters.")
    generation_count: int = strawberry.field(description="Generations filed in it.")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(
        description="When it or its set of generations last changed."
    )
    uuid: strawberry.Private[UUID]

    @classmethod
    def from_entity(cls, project: entities.Project) -> Project:
        return cls(
            id=to_global_id("Project", project.id),
            name=project.name,
            description=project.description,
            visibility=Visibility(project.visibility),
            tags=project.tags,
            generation_count=project.generation_count,
            created_at=project.created_at,
            updated_at=project.updated_at,
            uuid=project.id,
        )

    @strawberry.field(description="The project's generations, by default newest first.")
    async def generations(
        self,
        info: strawberry.Info[Context],
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: GenerationFilter | None = None,
        order_by: GenerationOrder | None = None,
    ) -> Connection[_Generation]:
        from velro_graphql.api.types.generation import Generation

        loaders = info.context.loaders
        key = (
            self.uuid,
            page_args(first, after, last, before, order_by),
            generation_filter(filter),
        )
        page = await loaders.generations_by_project.load(key)
        loaders.prime(loaders.generation_by_id, page.items)
        return connection_from(page, Generation.from_entity)

    @strawberry.field(description="The project's usage, shaped as `User.stats`.")
    async def stats(self, info: strawberry.Info[Context]) -> Stats:
        ctx = info.context
        usage = await usage_of(ctx.session, ctx.caller.user_id, project_id=self.uuid)
        return Stats.from_usage(usage)
