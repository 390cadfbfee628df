"""A subscription's selection, run on each value its source reads and encoded once as JSON."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

import strawberry
from graphql import DocumentNode, GraphQLError, execute

from velro_graphql.api.errors import code_errors
from velro_graphql.api.live.source import Item
from velro_graphql.services.health import database_unavailable

if TYPE_CHECKING:
    from collections.abc import Hashable

    from velro_graphql.api.context import Context


@dataclass(frozen=True, slots=True)
class Selection:
    """A validated subscription operation, to run once per value its source reads."""

    document: DocumentNode
    variables: dict[str, Any] | None
    operation_name: str | None


class Renderer:
    """Execute a subscription's selection with a value as its root field's result.

    Each run builds a fresh executor: graphql-core's per-event executors share a cache with the
    subscription's and leak a little on every event (PITFALLS.md).
    """

    def __init__(self, schema: strawberry.Schema) -> None:
        self._schema = schema._schema
        self._executor_class = schema.execution_context_class

    async def render(
        self, selection: Selection, context: Context, items: Sequence[Item]
    ) -> list[tuple[Hashable, str]]:
        """Each item's slot with its payload (`{"data": ..., "errors": [...]}`) as JSON text."""
        if len(items) == 1:
            ((slot, value),) = items
            return [(slot, await self._run(selection, context, value))]
        payloads = await asyncio.gather(*(self._run(selection, context, v) for _, v in items))
        return [(slot, payload) for (slot, _), payload in zip(items, payloads, strict=True)]

    async def _run(self, selection: Selection, context: Context, value: object) -> str:
        result = execute(
            self._schema,
            selection.document,
            root_value=value,
            context_value=context,
            variable_values=selection.variables,
            operation_name=selection.operation_name,
            executor_class=self._executor_class,
        )
        if isawaitable(result):
            result = await result
        for error in result.errors or ():
            if error.original_error and database_unavailable(error.original_error):
                raise error.original_error  # a partial state is no state: read again later
        return encode(result.data, result.errors, context)


def encode(
    data: object,
    errors: Sequence[GraphQLError] | None,
    context: object,
    extensions: dict[str, Any] | None = None,
) -> str:
    """A result as the JSON text of a `next` payload, its errors coded (and masked)."""
    payload: dict[str, Any] = {"data": data}
    if errors:
        coded = list(errors)
        code_errors(coded, context)
        payload["errors"] = [error.formatted for error in coded]
    if extensions:
        payload["extensions"] = extensions
    return json.dumps(payload, separators=(",", ":"))


def encode_failure(error: Exception, context: object) -> str:
    """The payload for a source that could not be read: no data, the coded error."""
    message = getattr(error, "message", None) or "Internal error."
    return encode(None, [GraphQLError(message, original_error=error)], context)
