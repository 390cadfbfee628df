"""Error codes on every GraphQL error, and masking of everything that is not a domain error."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import StreamExecutionResult

from velro_graphql.errors import RateLimited, VelroError

log = logging.getLogger("velro_graphql.api")


def classify(error: GraphQLError) -> str:
    """The contract's code for an error: the domain's, a client mistake's, or INTERNAL."""
    original = error.original_error
    if isinstance(original, VelroError):
        return original.code
    if original is None:
        return (
            "GRAPHQL_PARSE_FAILED"
            if error.message.startswith("Syntax Error")
            else ("BAD_USER_INPUT")
        )
    return "INTERNAL"


def with_code(error: GraphQLError, request_id: str) -> GraphQLError:
    """Return the error with `extensions.code`, masked when it is INTERNAL."""
    code = classify(error)
    extensions: dict[str, Any] = {**(error.extensions or {}), "code": code}
    message = error.message
    original = error.original_error
    if code == "INTERNAL":
        message = f"Internal error. Quote request id {request_id} when reporting it."
        extensions = {"code": code, "requestId": request_id}
    elif isinstance(original, VelroError) and original.field:
        extensions["field"] = original.field
    if isinstance(original, RateLimited):
        extensions["retryAfter"] = original.retry_after
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


def log_unexpected(errors: list[GraphQLError], request_id: str) -> None:
    for error in errors:
        if classify(error) == "INTERNAL":
            log.error(
                "unexpected error in %s",
                ".".join(str(p) for p in error.path or ()),
                exc_info=error.original_error,
                extra={"request_id": request_id},
            )


class ErrorCodes(SchemaExtension):
    """Give each error its code and mask the unexpected ones (logged with the request id)."""

    def on_operation(self) -> Iterator[None]:
        self._streamed = False
        yield
        # A streamed result was coded before it was sent; coding it twice would lose its code.
        if not self._streamed:
            self._code(self.execution_context.result)

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        """Code each result of a subscription (or a WebSocket operation) before it is sent."""
        self._streamed = True
        self._code(result)
        yield

    def _code(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if not errors:
            return
        request_id = getattr(self.execution_context.context, "request_id", "-")
        log_unexpected(errors, request_id)
        result.errors = [with_code(e, request_id) for e in errors]  # type: ignore[attr-defined]
