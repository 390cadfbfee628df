"""Query cost in the style of GitHub's: a connection multiplies its children by `first`.

The cost is the number of nodes an operation may return at most; computed from the
document and its variables before anything executes.
"""

from __future__ import annotations

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


def operation_cost(
    document: DocumentNode, operation: OperationDefinitionNode, variables: dict[str, Any] | None
) -> int:
    """The most nodes `operation` can return (each root field counts at least one)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walker = _Walker(fragments, variables or {})
    return walker.cost(operation.selection_set, 1, depth=0)


def root_fields(document: DocumentNode, operation: OperationDefinitionNode) -> dict[str, str]:
    """The operation's root fields by response key, through fragments: what will execute
    (fields sharing a response key merge into one execution)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    fields: dict[str, str] = {}
    pending: list[SelectionSetNode] = [operation.selection_set]
    while pending:
        for node in pending.pop().selections:
            if isinstance(node, FieldNode):
                fields[node.alias.value if node.alias else node.name.value] = node.name.value
            elif isinstance(node, InlineFragmentNode):
                pending.append(node.selection_set)
            elif isinstance(node, FragmentSpreadNode) and node.name.value in fragments:
                pending.append(fragments[node.name.value].selection_set)
    return fields


class _Walker:
    def __init__(
        self, fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]
    ) -> None:
        self._fragments = fragments
        self._variables = variables

    def cost(self, selections: SelectionSetNode | None, multiplier: int, *, depth: int) -> int:
        if selections is None or depth > 64:
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
        for argument in field.arguments or ():
            if argument.name.value == "first":
                value = value_from_ast_untyped(argument.value, self._variables)
                return value if isinstance(value, int) and value >= 0 else DEFAULT_PAGE_SIZE
        return DEFAULT_PAGE_SIZE if _is_connection(field) else None


_WRAPPERS = frozenset({"edges", "node", "nodes", "pageInfo"})


def _is_connection(field: FieldNode) -> bool:
    names = {s.name.value for s in field.selection_set.selections if isinstance(s, FieldNode)}  # type: ignore[union-attr]
    return bool(names & {"edges", "nodes", "pageInfo", "totalCount"})
