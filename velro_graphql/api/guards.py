"""Before anything executes: the caller's rate limits and the admission policy (cost,
introspection, unstorable text: api/admission.py).

Depth, aliases and tokens are checked by strawberry's own validators (see schema.py); this
adds the per-user budgets, and Shopify-style `extensions.cost` on responses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from graphql import (
    ExecutionResult,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    get_operation_ast,
)
from strawberry.extensions import SchemaExtension

from velro_graphql.api.admission import admit_operation, check_literals
from velro_graphql.api.cost import root_fields
from velro_graphql.errors import RateLimited, VelroError
from velro_graphql.services.rate_limits import Budget

if TYPE_CHECKING:
    from velro_graphql.api.context import Context

# Mutations that start a paid generation, counted against the generation budget.
_STARTS = frozenset({"startGeneration", "retryGeneration"})


class OperationGuard(SchemaExtension):
    def __init__(self) -> None:
        self._cost: int | None = None
        self._budget: Budget | None = None

    async def on_operation(self) -> AsyncIterator[None]:
        # Before parsing: a document that fails parsing or validation spends its operation too,
        # so a stream of broken documents empties its sender's budget like any other.
        context: Context = self.execution_context.context
        limits = context.services.rate_limits
        try:
            self._budget = await limits.spend(limits.operations, context.rate_limit_key)
        except RateLimited as error:
            set_http_status(context, error)
            raise
        yield

    def on_validate(self) -> Iterator[None]:
        document = self.execution_context.graphql_document
        if document is not None:
            check_literals(document)
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        context: Context = ec.context
        operation = get_operation_ast(ec.graphql_document, ec.operation_name)  # type: ignore[arg-type]
        try:
            if operation is not None:
                await self._check(context, operation, ec.variables)
        except VelroError as error:
            refusal = GraphQLError(error.message, original_error=error)
            if operation is not None and operation.operation == OperationType.SUBSCRIPTION:
                raise refusal from None
            ec.result = ExecutionResult(data=None, errors=[refusal])
            set_http_status(context, error)
        yield

    async def _check(
        self, context: Context, operation: OperationDefinitionNode, variables: Any
    ) -> None:
        document = self.execution_context.graphql_document
        assert document is not None
        limit = context.services.settings.max_query_cost
        self._cost = admit_operation(document, operation, variables, max_cost=limit)
        starts = sum(1 for name in root_fields(document, operation).values() if name in _STARTS)
        if starts and operation.operation == OperationType.MUTATION:
            limits = context.services.rate_limits
            await limits.spend(limits.generations, context.rate_limit_key, cost=starts)

    def get_results(self) -> dict[str, Any]:
        if self._cost is None:
            return {}
        cost: dict[str, Any] = {
            "requestedQueryCost": self._cost,
            "maximumQueryCost": self.execution_context.context.services.settings.max_query_cost,
        }
        if self._budget is not None:
            cost["throttleStatus"] = {
                "maximumAvailable": self._budget.limit,
                "currentlyAvailable": self._budget.remaining,
                "restoreRate": round(self._budget.limit / 60, 3),
            }
        return {"cost": cost}


def set_http_status(context: Context, error: VelroError) -> None:
    response = getattr(context, "response", None)
    if response is None or not isinstance(error, RateLimited):
        return
    response.status_code = 429
    response.headers["Retry-After"] = str(error.retry_after)
