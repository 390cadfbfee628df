"""The compiled read path: hot read-only queries answered by Postgres as JSON in one statement.

Queries made only of what `db.json_reads` can build (the caller, projects and generations with
their scalar fields, pages and cursors) skip per-field execution: the document is planned once
per text and variables, and the result is the statement's JSON. Anything else (other fields,
directives, bad arguments) runs through strawberry as usual, which also produces every error.
A test runs both paths on the same documents and compares their results.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
from graphql import ExecutionResult
from strawberry.extensions import SchemaExtension

from velro_graphql.api.compiled_plan import plan_for
from velro_graphql.services.compiled_reads import Field, fetch_json_text

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
        if ec.result is None and document and query is not None and context.user_id is not None:
            plan = plan_for(ec.schema._schema, document, query, ec.operation_name, ec.variables)
        text = await _fetch(context, plan) if plan is not None else None
        if text is not None:
            ec.result = ExecutionResult(data=_data(text, over_http=context.response is not None))
        yield


async def _fetch(context: Context, plan: tuple[Field, ...]) -> str | None:
    """Run the plan; on a failure, log it and leave the operation to per-field execution."""
    assert context.user_id is not None
    try:
        return await fetch_json_text(context.session, context.user_id, plan)
    except Exception:
        log.exception("a compiled read failed; answering per field")
        await context.close(commit=False)  # its transaction is aborted: the next read opens one
        return None


class PreEncodedJSON(str):
    """`data` as Postgres wrote it: an HTTP response splices it in without decoding it."""


def _data(text: str, *, over_http: bool) -> Any:
    return PreEncodedJSON(text) if over_http else orjson.loads(text)
