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
    if isinstance(original, GraphQLError):  # a variable that failed its type's coercion
        return "BAD_USER_INPUT"
    if original is None:
        parse_failed = error.message.startswith("Syntax Error") and limit_of(error) is None
        return "GRAPHQL_PARSE_FAILED" if parse_failed else "BAD_USER_INPUT"
    return "INTERNAL"


_LIMIT_MESSAGES = (
    ("more than", "tokens"),
    ("exceeds maximum operation depth", "depth"),
    ("aliases found", "aliases"),
)


def limit_of(error: GraphQLError) -> str | None:
    """Which query limit refused the operation, if one did (strawberry words it in the text)."""
    original = error.original_error
    if isinstance(original, VelroError) and original.field == "cost":
        return "cost"
    message = error.message.lower()
    return next((limit for text, limit in _LIMIT_MESSAGES if text in message), None)


def with_code(error: GraphQLError, request_id: str) -> GraphQLError:
    """Return the error with `extensions.code`, masked when it is INTERNAL."""
    code = classify(error)
    extensions: dict[str, Any] = {**(error.extensions or {}), "code": code}
    message = error.message
    original = error.original_error
    if code == "INTERNAL":
        message = f"Internal error. Quote request id {request_id} when reporting it."
        extensions = {"code": code, "requestId": request_id}
    elif limit_of(error):
        extensions["limit"] = limit_of(error)
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
        yield
        self._code(self.execution_context.result)

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        """Code each result of a subscription (or a WebSocket operation) before it is sent."""
        self._code(result)
        yield

    def _code(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            code_errors(errors, self.execution_context.context)


def code_errors(errors: list[GraphQLError], context: Any) -> None:
    """Code every error of the list in place; log and mask the unexpected ones once.

    Errors that already have a code are left alone, so running twice (a streamed result, or an
    error found before execution that also passes through `process_errors`) changes nothing.
    """
    fresh = [e for e in errors if "code" not in (e.extensions or {})]
    if not fresh:
        return
    request_id = getattr(context, "request_id", "-")
    log_unexpected(fresh, request_id)
    errors[:] = [e if "code" in (e.extensions or {}) else with_code(e, request_id) for e in errors]
