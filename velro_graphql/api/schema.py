"""The schema: roots, types and the extensions every operation runs with."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from velro_graphql.api.admission import Admission
from velro_graphql.api.compiled import CompiledReads
from velro_graphql.api.errors import ErrorCodes, code_errors
from velro_graphql.api.guards import AdmissionGuard
from velro_graphql.api.resolvers.generation_mutations import GenerationMutation
from velro_graphql.api.resolvers.project_mutations import ProjectMutation
from velro_graphql.api.resolvers.query import Query
from velro_graphql.api.resolvers.subscription import Subscription
from velro_graphql.api.resolvers.upload_mutations import UploadMutation
from velro_graphql.api.types.generation import Generation
from velro_graphql.api.types.project import Project
from velro_graphql.api.types.upload import Upload
from velro_graphql.api.types.user import User
from velro_graphql.config import Settings


class DatabaseSession(SchemaExtension):
    """End the operation's caller transaction when the operation ends, however it ends: a
    session left open would keep its pool connection for good."""

    async def on_operation(self) -> AsyncIterator[None]:
        close = getattr(self.execution_context.context, "close", None)
        failed = True
        try:
            yield
            failed = False
        finally:
            if close is not None:
                await close(commit=not failed)


class VelroSchema(strawberry.Schema):
    """The schema, and the admission policy every operation on every transport passes."""

    admission: Admission

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        extensions: list[Any] = [
            lambda: AdmissionGuard(self.admission),  # first: it may supply the document itself
            DatabaseSession,
            ErrorCodes,
        ]
        if settings.compiled_reads:
            extensions.append(CompiledReads)  # after the admission: refused operations never run
        super().__init__(**kwargs, extensions=extensions)
        self.admission = Admission(self._schema, settings)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Errors found before execution (parse, validation) reach the client through here
        # only. Strawberry's default would log every user mistake with a stack trace instead.
        code_errors(errors, execution_context.context if execution_context else None)

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        # A subscription needs a stream (WebSocket, or multipart over HTTP). Executed for one
        # result it could only fail, so it is refused like a mutation over GET.
        allowed = (
            {OperationType.QUERY, OperationType.MUTATION}
            if allowed_operation_types is None
            else set(allowed_operation_types)
        )
        return await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed - {OperationType.SUBSCRIPTION},
            operation_extensions,
        )


def build_schema(settings: Settings | None = None) -> VelroSchema:
    """The schema with its per-operation extensions, in the order they run."""
    mutation = merge_types("Mutation", (ProjectMutation, GenerationMutation, UploadMutation))
    mutation.__strawberry_definition__.description = (  # type: ignore[attr-defined]
        "Every change a caller can make; each answers its object and userErrors."
    )
    return VelroSchema(
        settings or Settings(),
        query=Query,
        mutation=mutation,
        subscription=Subscription,
        types=[Project, Generation, User, Upload],
    )
