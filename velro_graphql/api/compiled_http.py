"""Compiled reads over HTTP without strawberry's pipeline.

A JSON POST whose document is already parsed and valid (api/documents.py), a query, and planned
as a compiled read (api/compiled_plan.py) is answered here: the admission's own steps, the
plan's one statement, Postgres's JSON text spliced into the body, the operation's log line.
Anything else, and any step that refuses, goes on to strawberry with the same context, which
answers it exactly as before: refusals, errors and their codes keep one source. A refusal is
found before anything is spent (the cost is checked before the budget is), so strawberry's
second look spends what the admission would have, once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from graphql import (
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    get_operation_ast,
)

from velro_graphql.api.admission import Admission, Admitted, Request, cost_extension
from velro_graphql.api.compiled import fetch_plan
from velro_graphql.api.compiled_plan import Plan, plan_for
from velro_graphql.errors import VelroError

if TYPE_CHECKING:
    from graphql import GraphQLSchema

    from velro_graphql.api.context import Context

_JSON = b"application/json"
# Streaming transports (multipart, server-sent events) are strawberry's to negotiate.
_STREAMS = (b"multipart/", b"text/event-stream")


@dataclass(frozen=True, slots=True)
class _Read:
    """A request the compiled path may answer: its document, operation and plan."""

    query: str
    variables: dict[str, Any] | None
    name: str | None
    document: DocumentNode
    operation: OperationDefinitionNode
    plan: Plan


def may_answer(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a POST's headers leave its answer to plain JSON (no stream, no upload)."""
    content_type = accept = b""
    for name, value in headers:
        if name == b"content-type":
            content_type = value
        elif name == b"accept":
            accept = value
    return content_type.startswith(_JSON) and not any(s in accept for s in _STREAMS)


class CompiledHTTP:
    def __init__(self, schema: GraphQLSchema, admission: Admission) -> None:
        self._schema = schema
        self._admission = admission

    async def answer(self, context: Context, body: bytes) -> bytes | None:
        """The response body for a compiled read, or None: strawberry answers it. The caller
        closes the context's session (a read's COMMIT need not delay its answer)."""
        started = time.perf_counter()
        read = self._read(context, body)
        if read is None or not context.compiled:
            return None
        admitted = await self._admit(context, read)
        if admitted is None:
            return None
        try:
            text = await fetch_plan(context, read.plan)
        except BaseException:  # cancelled: fetch_plan handles the rest
            await context.close(commit=False)
            raise
        if text is None:  # counted and logged; per-field execution reports why
            context.compiled = False
            context.admitted = admitted
            return None
        name = read.operation.name.value if read.operation.name else None  # strawberry's too
        self._admission.record(context, "query", name, [], time.perf_counter() - started)
        extensions = cost_extension(admitted.cost, self._admission.max_cost, admitted.budget)
        return b'{"data":' + text.encode() + b',"extensions":' + orjson.dumps(extensions) + b"}"

    def _read(self, context: Context, body: bytes) -> _Read | None:
        if context.user_id is None:
            return None
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        query, variables, name = _fields(payload)
        if query is None:
            return None
        document = self._admission.documents.check(query)
        if document.document is None or document.errors:
            return None
        operation = get_operation_ast(document.document, name)
        if operation is None or operation.operation != OperationType.QUERY:
            return None
        plan = plan_for(self._schema, document.document, query, name, variables)
        if not isinstance(plan, tuple):
            return None
        return _Read(query, variables, name, document.document, operation, plan)

    async def _admit(self, context: Context, read: _Read) -> Admitted | None:
        """The admission's steps for a read with no persisted query: its rules (only known
        documents, say), the cost (a query spends nothing there), then the budget; None when
        one refuses."""
        admission = self._admission
        try:
            await admission.resolve(context, Request(read.query, read.variables, read.name))
            cost = await admission.check(context, read.document, read.operation, read.variables)
            budget = await admission.spend(context)
        except (VelroError, GraphQLError):
            return None
        return Admitted(read.query, read.document, read.operation, cost, budget)


_KEYS = frozenset({"query", "variables", "operationName", "extensions"})


def _fields(payload: Any) -> tuple[str | None, dict[str, Any] | None, str | None]:
    """The query, variables and operation name of a payload that has nothing else (no
    persisted query, no extensions); (None, None, None) for what strawberry should look at."""
    if not isinstance(payload, dict) or not _KEYS.issuperset(payload):
        return None, None, None
    if payload.get("extensions") not in (None, {}):
        return None, None, None
    query, variables, name = (payload.get(k) for k in ("query", "variables", "operationName"))
    if not isinstance(query, str) or not isinstance(variables, dict | None):
        return None, None, None
    if not isinstance(name, str | None):
        return None, None, None
    return query, variables, name
