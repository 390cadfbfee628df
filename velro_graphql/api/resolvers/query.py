"""The Query root: thin resolvers over the services."""

from __future__ import annotations

from uuid import UUID

import strawberry

from velro_graphql.api.context import Context
from velro_graphql.api.resolvers.generation_mutations import start_input
from velro_graphql.api.resolvers.project_mutations import attempt
from velro_graphql.api.types.credit import CreditTransaction
from velro_graphql.api.types.generation import Generation, load_generation
from velro_graphql.api.types.lists import (
    CreditTransactionFilter,
    GenerationFilter,
    GenerationOrder,
    ProjectFilter,
    ProjectOrder,
    generation_filter,
    page_args,
)
from velro_graphql.api.types.model import Model
from velro_graphql.api.types.payloads import GenerationQuote, StartGenerationInput
from velro_graphql.api.types.project import Project
from velro_graphql.api.types.relay import (
    Connection,
    Node,
    connection_from,
    expect_global_id,
    from_global_id,
)
from velro_graphql.api.types.upload import Upload, load_upload
from velro_graphql.api.types.user import User, list_projects
from velro_graphql.errors import NotFound
from velro_graphql.services import credits, uploads
from velro_graphql.services.generations import reads
from velro_graphql.services.generations.start import quote_generation

Info = strawberry.Info[Context]


@strawberry.type(description="Reads; every list is the caller's own.")
class Query:
    @strawberry.field(description="The signed-in user.")
    async def me(self, info: Info) -> User:
        return await _me(info.context)

    @strawberry.field(
        description="The model catalog, deprecated models included (hidden ones are not)."
    )
    def models(self, info: Info) -> list[Model]:
        info.context.check_token()
        runtime = info.context.services.runtime
        provider = runtime.default_provider
        listed = (m for m in runtime.models.values() if not m.hidden)
        return [Model.from_entity(m, provider=provider) for m in listed]

    @strawberry.field(description="What startGeneration would charge for this input.")
    async def generation_quote(self, info: Info, input: StartGenerationInput) -> GenerationQuote:
        info.context.check_token()
        runtime = info.context.services.runtime
        price, errors = await attempt(lambda: quote_generation(runtime, start_input(input)))
        if price is None:
            return GenerationQuote(user_errors=errors)
        return GenerationQuote(credits=price.credits, description=price.description)

    @strawberry.field(description="The caller's projects, by default newest first.")
    async def projects(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: ProjectFilter | None = None,
        order_by: ProjectOrder | None = None,
    ) -> Connection[Project]:
        args = page_args(first, after, last, before, order_by)
        return await list_projects(info.context, args, filter)

    @strawberry.field(description="One of the caller's projects; NOT_FOUND otherwise.")
    async def project(self, info: Info, id: strawberry.ID) -> Project | None:
        return await _project(info.context, expect_global_id(id, "Project"))

    @strawberry.field(description="One of the caller's generations; NOT_FOUND otherwise.")
    async def generation(self, info: Info, id: strawberry.ID) -> Generation | None:
        return await _generation(info.context, expect_global_id(id, "Generation"))

    @strawberry.field(description="The caller's generations, by default newest first.")
    async def generations(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: GenerationFilter | None = None,
        order_by: GenerationOrder | None = None,
    ) -> Connection[Generation]:
        ctx = info.context
        args = page_args(first, after, last, before, order_by)
        page = await reads.list_generations(
            ctx.session, ctx.caller.user_id, args, generation_filter(filter)
        )
        ctx.loaders.prime(ctx.loaders.generation_by_id, page.items)
        return connection_from(page, Generation.from_entity)

    @strawberry.field(description="The caller's credit ledger, newest first.")
    async def credit_transactions(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: CreditTransactionFilter | None = None,
    ) -> Connection[CreditTransaction]:
        ctx = info.context
        kind = filter.kind.value if filter and filter.kind else None
        page = await credits.list_transactions(
            ctx.session, ctx.caller.user_id, first=first, after=after, kind=kind
        )
        return connection_from(page, CreditTransaction.from_entity, after=after is not None)

    @strawberry.field(description="The caller's uploads, newest first.")
    async def uploads(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Upload]:
        ctx = info.context
        page = await uploads.list_uploads(ctx.session, ctx.caller.user_id, first=first, after=after)
        return connection_from(page, Upload.from_entity, after=after is not None)

    @strawberry.field(description="Any object by its global id.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        type_name, uuid = from_global_id(id)
        ctx = info.context
        if type_name == "Project":
            return await _project(ctx, uuid)
        if type_name == "Generation":
            return await _generation(ctx, uuid)
        if type_name == "User" and uuid == ctx.caller.user_id:
            return await _me(ctx)
        if type_name == "Upload" and (upload := await load_upload(ctx, uuid)):
            return upload
        raise NotFound("No such object.", field="id")


async def _me(context: Context) -> User:
    profile = await context.loaders.profile_by_id.load(context.caller.user_id)
    if profile is None:
        raise NotFound("No profile for this user.")
    return User.from_entity(profile)


async def _generation(context: Context, id_: UUID) -> Generation:
    found = await load_generation(context, id_)
    if found is None:
        raise NotFound("No such generation.", field="id")
    return found


async def _project(context: Context, id_: UUID) -> Project:
    project = await context.loaders.project_by_id.load(id_)
    if project is None:
        raise NotFound("No such project.", field="id")
    return Project.from_entity(project)
