"""Query cost in the style of GitHub's: a connection multiplies its children by `first`.

The cost is the number of nodes an operation may return at most; computed from the
document and its variables (with the defaults of their definitions) before anything executes.
Introspection is measured apart (`introspection_extent`): its lists have no `first`, and
strawberry's depth limit ignores its fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    value_from_ast_untyped,
)

from velro_graphql.services.pagination import DEFAULT_PAGE_SIZE

_MAX_NESTING = 64
# The introspection fields that return lists, each a fan-out an attacker can nest.
_INTROSPECTION_LISTS = frozenset(
    {"types", "fields", "args", "inputFields", "enumValues", "interfaces", "possibleTypes"}
    | {"directives"}
)
_INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})


@dataclass(frozen=True, slots=True)
class IntrospectionExtent:
    roots: int  # `__schema` and `__type` fields (`__typename` is free)
    nested_lists: int  # the most list fields on one path below them


def operation_cost(
    document: DocumentNode, operation: OperationDefinitionNode, variables: dict[str, Any] | None
) -> int:
    """The most nodes `operation` can return (each root field counts at least one)."""
    walker = _Walker(_fragments(document), with_defaults(operation, variables))
    return walker.cost(operation.selection_set, 1, depth=0)


def with_defaults(
    operation: OperationDefinitionNode, variables: dict[str, Any] | None
) -> dict[str, Any]:
    """The variables as execution will see them: the given ones, then their definitions'
    defaults (`query($n: Int = 100)` must cost what `first: 100` costs)."""
    resolved = dict(variables or {})
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in resolved and definition.default_value is not None:
            resolved[name] = value_from_ast_untyped(definition.default_value)
    return resolved


def introspection_extent(
    document: DocumentNode, operation: OperationDefinitionNode
) -> IntrospectionExtent:
    fragments = _fragments(document)
    roots = [
        field
        for field in _fields(operation.selection_set, fragments)
        if field.name.value in _INTROSPECTION_ROOTS
    ]
    nesting = max((_list_nesting(r.selection_set, fragments, 0) for r in roots), default=0)
    return IntrospectionExtent(roots=len(roots), nested_lists=nesting)


def _list_nesting(
    selections: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode], depth: int
) -> int:
    if selections is None or depth > _MAX_NESTING:
        return 0
    deepest = 0
    for field in _fields(selections, fragments):
        inner = _list_nesting(field.selection_set, fragments, depth + 1)
        deepest = max(deepest, inner + (field.name.value in _INTROSPECTION_LISTS))
    return deepest


def root_fields(document: DocumentNode, operation: OperationDefinitionNode) -> dict[str, str]:
    """The operation's root fields by response key, through fragments: what will execute
    (fields sharing a response key merge into one execution)."""
    return {
        field.alias.value if field.alias else field.name.value: field.name.value
        for field in _fields(operation.selection_set, _fragments(document))
    }


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _fields(
    selections: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode]
) -> list[FieldNode]:
    """The fields of one selection set, through its fragments (each fragment once)."""
    fields: list[FieldNode] = []
    seen: set[str] = set()
    pending: list[SelectionSetNode] = [selections]
    while pending:
        for node in pending.pop().selections:
            if isinstance(node, FieldNode):
                fields.append(node)
            elif isinstance(node, InlineFragmentNode):
                pending.append(node.selection_set)
            elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
                seen.add(node.name.value)
                if node.name.value in fragments:
                    pending.append(fragments[node.name.value].selection_set)
    return fields


class _Walker:
    def __init__(
        self, fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]
    ) -> None:
        self._fragments = fragments
        self._variables = variables

    def cost(self, selections: SelectionSetNode | None, multiplier: int, *, depth: int) -> int:
        if selections is None or depth > _MAX_NESTING:
            return 0
        total = 0
        for node in selections.selections:
            if isinstance(node, FieldNode):
                total += self._field(node, multiplier, depth)
            elif isinstance(node, InlineFragmentNode):
                total += self.cost(node.selection_set, multiplier, depth=depth + 1)
            elif isinstance(node, FragmentSpreadNode) and node.name.value in self._fragments:
                fragment = self._fragments[node.name.value]
                total += self.cost(fragment.selection_set, multiplier, depth=depth + 1)
        return total

    def _field(self, field: FieldNode, multiplier: int, depth: int) -> int:
        if field.selection_set is None:
            return 0
        if field.name.value in _WRAPPERS:  # a connection's parts: its items are counted already
            return self.cost(field.selection_set, multiplier, depth=depth + 1)
        page = self._page_size(field)
        if page is None:
            return multiplier + self.cost(field.selection_set, multiplier, depth=depth + 1)
        fanned = multiplier * page
        return fanned + self.cost(field.selection_set, fanned, depth=depth + 1)

    def _page_size(self, field: FieldNode) -> int | None:
        sizes = [
            _count(value_from_ast_untyped(argument.value, self._variables))
            for argument in field.arguments or ()
            if argument.name.value in ("first", "last")
        ]
        if sizes:
            return max(sizes)
        return DEFAULT_PAGE_SIZE if _is_connection(field) else None


def _count(value: object) -> int:
    """A page size as graphql-core will coerce it (an Int variable may arrive as `100.0`)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return DEFAULT_PAGE_SIZE  # absent, null or invalid: the default, or refused by validation


_WRAPPERS = frozenset({"edges", "node", "nodes", "pageInfo"})


def _is_connection(field: FieldNode) -> bool:
    names = {s.name.value for s in field.selection_set.selections if isinstance(s, FieldNode)}  # type: ignore[union-attr]
    return bool(names & {"edges", "nodes", "pageInfo", "totalCount"})
