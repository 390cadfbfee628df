"""The admission policy (api/admission.py) in strawberry's pipeline: each of its steps at the
hook where strawberry would do the same, so HTTP operations, and WebSocket queries and
mutations, pass exactly what WebSocket subscriptions pass. Adds Shopify-style
`extensions.cost` to responses.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from graphql import ExecutionResult, GraphQLError, OperationType, get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import InvalidOperationTypeError

from velro_graphql.api.admission import Admission, Admitted, Request, cost_extension
from velro_graphql.api.errors import classify
from velro_graphql.api.telemetry import error_codes
from velro_graphql.errors import RateLimited, VelroError
from velro_graphql.services.rate_limits import Budget

if TYPE_CHECKING:
    from velro_graphql.api.context import Context


class AdmissionGuard(SchemaExtension):
    """Runs first: every step of the admission, and the operation's log line at the end."""

    def __init__(self, admission: Admission) -> None:
        self.admission = admission
        self._cost: int | None = None
        self._budget: Budget | None = None
        self._admitted: Admitted | None = None

    async def on_operation(self) -> AsyncIterator[None]:
        ec = self.execution_context
        context: Context = ec.context
        started = time.perf_counter()
        # A WebSocket query comes admitted already (api/live/connection.py): not spent twice.
        admitted = getattr(context, "admitted", None)
        self._admitted = admitted if isinstance(admitted, Admitted) else None
        try:
            await self._enter(context)
        except (VelroError, GraphQLError) as error:
            set_http_status(context, error)
            refused = [error.code if isinstance(error, VelroError) else _code(error)]
            self.admission.record(context, "unknown", None, refused, time.perf_counter() - started)
            raise
        failed: list[str] = []
        try:
            yield
        except (VelroError, GraphQLError) as error:
            failed = [error.code if isinstance(error, VelroError) else _code(error)]
            raise
        except InvalidOperationTypeError:  # a mutation over GET, a subscription over POST
            failed = ["BAD_USER_INPUT"]
            raise
        except BaseException:  # a bug or a cancelled request still gets its log line
            failed = ["INTERNAL"]
            raise
        finally:
            codes = failed or error_codes(getattr(ec.result, "errors", None))
            seconds = time.perf_counter() - started
            self.admission.record(context, _kind(ec), ec.operation_name, codes, seconds)

    async def _enter(self, context: Context) -> None:
        ec = self.execution_context
        if self._admitted is not None:
            ec.query = self._admitted.query
            self._cost, self._budget = self._admitted.cost, self._admitted.budget
            return
        request = Request(ec.query, ec.variables, ec.operation_name, ec.operation_extensions)
        ec.query = await self.admission.resolve(context, request)
        self._budget = await self.admission.spend(context)

    def on_parse(self) -> Iterator[None]:
        ec = self.execution_context
        checked = self.admission.documents.check(ec.query or "")
        if checked.document is None:
            raise checked.fresh_errors()[0]
        ec.graphql_document = checked.document
        yield

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        ec.pre_execution_errors = self.admission.documents.check(ec.query or "").fresh_errors()
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        context: Context = ec.context
        operation = get_operation_ast(ec.graphql_document, ec.operation_name)  # type: ignore[arg-type]
        if self._admitted is None and operation is not None:
            assert ec.graphql_document is not None
            try:
                self._cost = await self.admission.check(
                    context, ec.graphql_document, operation, ec.variables
                )
            except VelroError as error:
                refusal = GraphQLError(error.message, original_error=error)
                if operation.operation == OperationType.SUBSCRIPTION:
                    raise refusal from None
                ec.result = ExecutionResult(data=None, errors=[refusal])
                set_http_status(context, error)
        yield

    def get_results(self) -> dict[str, Any]:
        if self._cost is None:
            return {}
        return cost_extension(self._cost, self.admission.max_cost, self._budget)


def set_http_status(context: Context, error: Exception) -> None:
    response = getattr(context, "response", None)
    if response is None or not isinstance(error, RateLimited):
        return
    response.status_code = 429
    response.headers["Retry-After"] = str(error.retry_after)


def _code(error: GraphQLError) -> str:
    return str((error.extensions or {}).get("code") or classify(error))


def _kind(ec: Any) -> str:
    try:
        return str(ec.operation_type.value)
    except (RuntimeError, AttributeError):
        return "unknown"
