"""The compiled read path: hot read-only queries answered by Postgres as JSON in one statement.

Queries made only of what the read model declares (the caller, projects and generations with
their scalar fields, pages, filters and cursors) skip per-field execution: the document is
planned once per text and variables, and the result is the statement's JSON. Anything else
(other fields, directives, bad arguments) runs through strawberry as usual, which also produces
every error, and is counted by reason in `velro_graphql_compiled_fallbacks_total`. A test
generates documents from the declaration and requires both paths to answer them alike.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
from graphql import ExecutionResult
from strawberry.extensions import SchemaExtension

from velro_graphql.api.compiled_plan import Fallback, Plan, plan_for
from velro_graphql.services.read_model import fetch_json

if TYPE_CHECKING:
    from velro_graphql.api.context import Context

log = logging.getLogger(__name__)


class CompiledReads(SchemaExtension):
    """Answer a supported query with one statement; leave every other operation alone."""

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        context: Context = ec.context
        plan = None
        document, query = ec.graphql_document, ec.query
        may = context.compiled and context.user_id is not None
        if ec.result is None and document and query is not None and may:
            plan = plan_for(ec.schema._schema, document, query, ec.operation_name, ec.variables)
        if isinstance(plan, Fallback):
            context.services.metrics.compiled_fallbacks.labels(plan.reason).inc()
        elif plan is not None:
            text = await fetch_plan(context, plan)
            if text is not None:
                ec.result = ExecutionResult(
                    data=_data(text, over_http=context.response is not None)
                )
        yield


async def fetch_plan(context: Context, plan: Plan) -> str | None:
    """Run the plan; on a failure or a null root, count it and leave the operation to
    per-field execution (which reports why)."""
    assert context.user_id is not None
    if all(field.kind == "literal" for field in plan):  # `{ __typename }`: no database
        return orjson.dumps({field.key: field.value for field in plan}).decode()
    fallbacks = context.services.metrics.compiled_fallbacks
    try:
        text = await fetch_json(context.session, context.user_id, plan)
    except Exception:
        log.exception("a compiled read failed; answering per field")
        await context.close(commit=False)  # its transaction is aborted: the next read opens one
        fallbacks.labels("statement_failed").inc()
        return None
    if text is None:
        fallbacks.labels("null_root").inc()
    return text


class PreEncodedJSON(str):
    """`data` as Postgres wrote it: an HTTP response splices it in without decoding it."""


def _data(text: str, *, over_http: bool) -> Any:
    return PreEncodedJSON(text) if over_http else orjson.loads(text)
