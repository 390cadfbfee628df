"""Before anything executes: the operation's cost and the caller's rate limits.

Depth, aliases and tokens are checked by strawberry's own validators (see schema.py); this
adds the cost limit, the per-user budgets, and Shopify-style `extensions.cost` on responses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from graphql import (
    BREAK,
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    OperationType,
    StringValueNode,
    Visitor,
    get_operation_ast,
    visit,
)
from strawberry.extensions import SchemaExtension

from velro_graphql.api.cost import operation_cost, root_fields
from velro_graphql.errors import BadUserInput, RateLimited, VelroError
from velro_graphql.services.rate_limits import Budget

if TYPE_CHECKING:
    from velro_graphql.api.context import Context

# Mutations that start a paid generation, counted against the generation budget.
_STARTS = frozenset({"startGeneration", "retryGeneration"})


class OperationGuard(SchemaExtension):
    def __init__(self) -> None:
        self._cost: int | None = None
        self._budget: Budget | None = None

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
            _set_http_status(context, error)
        yield

    async def _check(self, context: Context, operation: Any, variables: Any) -> None:
        query = self.execution_context.query or ""
        may_hold_nul = "\x00" in query or "\\u0000" in query  # the only ways to write one
        document = self.execution_context.graphql_document
        if _has_nul(variables) or (may_hold_nul and _has_nul_literal(document)):
            # Postgres text cannot hold NUL: refuse it here rather than fail mid-operation.
            raise BadUserInput("Text must not contain NUL (\\u0000) characters.")
        limit = context.services.settings.max_query_cost
        self._cost = operation_cost(self.execution_context.graphql_document, operation, variables)  # type: ignore[arg-type]
        if self._cost > limit:
            raise BadUserInput(
                f"Query cost {self._cost} exceeds the limit of {limit}: "
                "ask for fewer items (smaller `first`) or fewer nested connections.",
                field="cost",
            )
        limits = context.services.rate_limits
        self._budget = await limits.spend(limits.operations, context.rate_limit_key)
        fields = root_fields(document, operation)  # type: ignore[arg-type]
        starts = sum(1 for name in fields.values() if name in _STARTS)
        if starts and operation.operation == OperationType.MUTATION:
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


def _has_nul(variables: object) -> bool:
    pending = [variables]  # a stack, not recursion: JSON variables may nest very deep
    while pending:
        value = pending.pop()
        if isinstance(value, str) and "\x00" in value:
            return True
        if isinstance(value, dict):
            pending += [*value.keys(), *value.values()]
        elif isinstance(value, list):
            pending += value
    return False


class _NulLiteral(Visitor):
    found = False

    def enter_string_value(self, node: StringValueNode, *_: object) -> object:
        self.found = "\x00" in node.value
        return BREAK if self.found else None


def _has_nul_literal(document: DocumentNode | None) -> bool:
    finder = _NulLiteral()
    if document is not None:
        visit(document, finder)
    return finder.found


def _set_http_status(context: Context, error: VelroError) -> None:
    response = getattr(context, "response", None)
    if response is None or not isinstance(error, RateLimited):
        return
    response.status_code = 429
    response.headers["Retry-After"] = str(error.retry_after)
