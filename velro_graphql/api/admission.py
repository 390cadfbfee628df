"""What no operation may do, over any transport: one admission policy for HTTP and WebSocket.

`admit_operation` runs after validation and before execution: on HTTP from the guard
extension (api/guards.py), on WebSocket subscriptions from the live fan-out.
"""

from __future__ import annotations

import re
from typing import Any

from graphql import (
    BREAK,
    ArgumentNode,
    DocumentNode,
    IntValueNode,
    ObjectFieldNode,
    OperationDefinitionNode,
    StringValueNode,
    Visitor,
    visit,
)

from velro_graphql.api.cost import introspection_extent, operation_cost
from velro_graphql.errors import BadUserInput

# One full introspection (GraphiQL's, codegen's) asks `__schema` once and nests three lists
# (types -> fields -> args); 30 aliased copies answered 1.86 MB, and nesting more lists
# (fields -> type -> fields ...) multiplies the answer with each level.
MAX_INTROSPECTION_ROOTS = 2
MAX_INTROSPECTION_LISTS = 3
# Postgres text holds neither NUL nor lone UTF-16 surrogates (JSON's "\ud800" decodes to one
# and fails asyncpg's UTF-8 encoding): refused here, naming the field, not mid-operation.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Integer literals past Python's int() limit (4,300 digits) fail graphql-core's validation with
# a ValueError; far shorter ones already fit no Int and no seed.
MAX_INT_LITERAL_DIGITS = 100
_LONG_DIGITS = re.compile(rf"\d{{{MAX_INT_LITERAL_DIGITS + 1}}}")


def admit_operation(
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, Any] | None,
    *,
    max_cost: int,
) -> int:
    """Refuse unstorable text, oversized introspection and operations over `max_cost`;
    return the operation's cost."""
    check_text(document, variables)
    check_introspection(document, operation)
    cost = operation_cost(document, operation, variables)
    if cost > max_cost:
        raise BadUserInput(
            f"Query cost {cost} exceeds the limit of {max_cost}: "
            "ask for fewer items (smaller `first`) or fewer nested connections.",
            field="cost",
        )
    return cost


def check_literals(document: DocumentNode) -> None:
    """Before validation: refuse integer literals too long for any input."""
    if document.loc is not None and not _LONG_DIGITS.search(document.loc.source.body):
        return
    finder = _LongInteger()
    visit(document, finder)
    if finder.found:
        raise BadUserInput(
            f"Integer literals are limited to {MAX_INT_LITERAL_DIGITS} digits.", field="query"
        )


class _LongInteger(Visitor):
    found = False

    def enter_int_value(self, node: IntValueNode, *_: object) -> object:
        self.found = len(node.value.lstrip("-")) > MAX_INT_LITERAL_DIGITS
        return BREAK if self.found else None


def check_introspection(document: DocumentNode, operation: OperationDefinitionNode) -> None:
    extent = introspection_extent(document, operation)
    if extent.roots > MAX_INTROSPECTION_ROOTS or extent.nested_lists > MAX_INTROSPECTION_LISTS:
        raise BadUserInput(
            f"Introspection is limited to {MAX_INTROSPECTION_ROOTS} `__schema`/`__type` fields "
            f"an operation, nesting at most {MAX_INTROSPECTION_LISTS} lists.",
            field="introspection",
        )


def check_text(document: DocumentNode | None, variables: object) -> None:
    """Refuse text Postgres cannot store, in the variables or the document's literals."""
    field = unstorable_field(variables)
    if field is None and document is not None and _may_hold_nul(document):
        field = _unstorable_literal(document)
    if field is not None:
        raise BadUserInput(
            f"{field} must not contain NUL (\\u0000) characters or lone UTF-16 surrogates.",
            field=field,
        )


def unstorable_field(variables: object) -> str | None:
    """The input field (or variable) holding unstorable text, if one does."""
    pending: list[tuple[str, object]] = [("variables", variables)]  # a stack: JSON nests deep
    while pending:
        field, value = pending.pop()
        if isinstance(value, str):
            if _UNSTORABLE.search(value):
                return field
        elif isinstance(value, dict):
            for key, item in value.items():
                if _UNSTORABLE.search(key):
                    return field
                pending.append((key, item))
        elif isinstance(value, list):
            pending += [(field, item) for item in value]
    return None


class _UnstorableLiteral(Visitor):
    field: str | None = None

    def enter_string_value(
        self, node: StringValueNode, _key: object, parent: object, _path: object, ancestors: Any
    ) -> object:
        if not _UNSTORABLE.search(node.value):
            return None
        named = [a for a in [*ancestors, parent] if isinstance(a, ArgumentNode | ObjectFieldNode)]
        self.field = named[-1].name.value if named else "query"
        return BREAK


def _may_hold_nul(document: DocumentNode) -> bool:
    """Whether a literal may hold NUL (the lexer refuses lone surrogates in literals itself):
    a raw one, or an escape (`\\u0000`, `\\u{0}`); most documents have neither."""
    if document.loc is None:
        return True
    body = document.loc.source.body
    return "\x00" in body or "\\u" in body


def _unstorable_literal(document: DocumentNode) -> str | None:
    finder = _UnstorableLiteral()
    visit(document, finder)
    return finder.field
