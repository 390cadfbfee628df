"""The schema: roots, types and the extensions every operation runs with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, SchemaExtension, ValidationCache
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from velro_graphql.api.errors import ErrorCodes
from velro_graphql.api.resolvers.generation_mutations import GenerationMutation
from velro_graphql.api.resolvers.project_mutations import ProjectMutation
from velro_graphql.api.resolvers.query import Query
from velro_graphql.api.resolvers.subscription import Subscription
from velro_graphql.api.types.generation import Generation
from velro_graphql.api.types.project import Project
from velro_graphql.api.types.user import User


class DatabaseSession(SchemaExtension):
    """End the operation's caller transaction when the operation ends."""

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        close = getattr(self.execution_context.context, "close", None)
        if close is not None:
            await close()


class VelroSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # ErrorCodes logs what deserves it, with the request id; strawberry's default would log
        # every user mistake as an error with a stack trace.
        return None


def build_schema(**kwargs: Any) -> strawberry.Schema:
    return VelroSchema(
        query=Query,
        mutation=merge_types("Mutation", (ProjectMutation, GenerationMutation)),
        subscription=Subscription,
        types=[Project, Generation, User],
        extensions=[
            DatabaseSession,
            ErrorCodes,
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
        ],
        **kwargs,
    )
