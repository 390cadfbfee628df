"""WebSocket documents: parsed and validated once per distinct text, with the schema's limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import strawberry
from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    get_operation_ast,
    parse,
    specified_rules,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter
from strawberry.schema.schema import validate_document

from velro_graphql.config import Settings
from velro_graphql.errors import BadUserInput


class Refused(Exception):
    """An operation that cannot start: the errors to answer it with."""

    def __init__(self, errors: Sequence[GraphQLError]) -> None:
        super().__init__(errors[0].message if errors else "refused")
        self.errors = list(errors)

    @classmethod
    def because(cls, error: Exception) -> Refused:
        message = getattr(error, "message", str(error))
        return cls([GraphQLError(message, original_error=error)])


@dataclass(frozen=True, slots=True)
class Request:
    """What a client's subscribe (or start) message asks for."""

    query: str
    variables: dict[str, Any] | None
    operation_name: str | None

    @classmethod
    def from_payload(cls, payload: object) -> Request:
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            raise Refused.because(BadUserInput("The payload must carry a `query` string."))
        variables, name = payload.get("variables"), payload.get("operationName")
        if variables is not None and not isinstance(variables, dict):
            raise Refused.because(BadUserInput("`variables` must be an object."))
        if name is not None and not isinstance(name, str):
            raise Refused.because(BadUserInput("`operationName` must be a string."))
        return cls(payload["query"], variables, name)


class Documents:
    """The parse and validation steps of strawberry's pipeline, with the same limits."""

    def __init__(self, schema: strawberry.Schema, settings: Settings, *, size: int = 512) -> None:
        self._schema = schema._schema
        self._max_tokens = settings.max_query_tokens
        self._rules = _rules(settings)
        self._checked = lru_cache(maxsize=size)(self._check)

    def operation(self, request: Request) -> tuple[DocumentNode, OperationDefinitionNode]:
        """The request's document and operation; raises Refused when either is invalid."""
        checked = self._checked(request.query)
        if isinstance(checked, tuple):
            raise Refused(checked)
        operation = get_operation_ast(checked, request.operation_name)
        if operation is None:
            name = request.operation_name
            message = (
                f"Unknown operation named '{name}'."
                if name
                else "Must provide operation name if query contains multiple operations."
            )
            raise Refused([GraphQLError(message)])
        return checked, operation

    def _check(self, text: str) -> DocumentNode | tuple[GraphQLError, ...]:
        try:
            document = parse(text, max_tokens=self._max_tokens)
        except GraphQLError as error:
            return (error,)
        errors = validate_document(self._schema, document, self._rules)
        return tuple(errors) if errors else document


def _rules(settings: Settings) -> tuple[type[ASTValidationRule], ...]:
    rules = [
        *specified_rules,
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_query_aliases).validation_rules,
    ]
    if not settings.introspection_enabled:
        rules.append(NoSchemaIntrospectionCustomRule)
    return tuple(rules)
