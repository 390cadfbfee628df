"""A subscription rendered from the state its change notification carries, without a read.

Which selections qualify and how each field prints come from the read model's declaration
(`services.read_model.TABLES`), the same one the per-field reads and the compiled reads are
generated from: the type's global `id`, `__typename`, and the fields read from one column, in
the format their GraphQL type prints. Anything else (links, lists, arguments, directives,
fragments on other types, a key selected twice) leaves the subscription to its reads. A test
generates selections from the declaration and requires this rendering and per-field execution
to agree byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionNode,
    SelectionSetNode,
    get_named_type,
    get_operation_ast,
)

from velro_graphql.api.live.execution import Selection
from velro_graphql.api.types.relay import to_global_id
from velro_graphql.bounded_cache import BoundedCache
from velro_graphql.services.read_model import TABLES, Format, round_fraction

State = Mapping[str, Any]
Getter = Callable[[State], Any]


def _iso(value: str | None) -> str | None:
    """A timestamp's JSON (in the writer's time zone) as DateTime prints asyncpg's (in UTC)."""
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC).isoformat()


def _upper(value: str | None) -> str | None:
    return None if value is None else value.upper()


FORMATS: Mapping[Format, Callable[[Any], Any]] = {
    "value": lambda value: value,
    "upper": _upper,
    "fraction": round_fraction,
    "iso": _iso,
}


@dataclass(frozen=True, slots=True)
class StatePlan:
    """How a subscription's payload is built from its object's state."""

    root_key: str
    fields: tuple[tuple[str, Getter], ...]

    def render(self, state: State) -> str | None:
        """The payload (`{"data": ...}`) as JSON text; None when the state lacks a column."""
        try:
            node = {key: get(state) for key, get in self.fields}
        except KeyError:
            return None
        return json.dumps({"data": {self.root_key: node}}, separators=(",", ":"))


class StatePlans:
    """Plans by document text, operation and type, so that the feeds of one document (one a
    subscriber, in the usual shape) share one plan; the least recently used go past `limit`."""

    def __init__(self, schema: GraphQLSchema, limit: int = 512) -> None:
        self._schema = schema
        self._plans = BoundedCache[tuple[str, str | None, str], StatePlan | None](limit)

    def plan(self, text: str, selection: Selection, type_name: str) -> StatePlan | None:
        """The plan of `selection`, whose document's text is `text`."""
        key = (text, selection.operation_name, type_name)
        if key in self._plans:  # None too: the selection has no plan
            return self._plans.get(key)
        plan = plan_state(self._schema, selection, type_name)
        self._plans.put(key, plan)
        return plan


def plan_state(schema: GraphQLSchema, selection: Selection, type_name: str) -> StatePlan | None:
    """The plan rendering `selection` from a `type_name` row's state, if it only asks for what
    the declaration reads from the row itself."""
    operation = get_operation_ast(selection.document, selection.operation_name)
    root_type = schema.subscription_type
    if operation is None or operation.directives or root_type is None:
        return None
    fragments = {
        d.name.value: d
        for d in selection.document.definitions
        if isinstance(d, FragmentDefinitionNode)
    }
    roots = _collect(operation.selection_set, fragments, root_type.name)
    if roots is None or len(roots) != 1:
        return None
    root = roots[0]
    field = root_type.fields.get(root.name.value)
    if field is None or get_named_type(field.type).name != type_name:
        return None
    nodes = _collect(root.selection_set, fragments, type_name)
    getters = [_getter(node, type_name) for node in nodes or ()]
    keys = [_key(node) for node in nodes or ()]
    if nodes is None or None in getters or len(set(keys)) != len(keys):
        return None
    fields = tuple((key, g) for key, g in zip(keys, getters, strict=True) if g is not None)
    return StatePlan(_key(root), fields)


def _getter(node: FieldNode, type_name: str) -> Getter | None:
    name = node.name.value
    if node.arguments or node.selection_set:
        return None
    if name == "__typename":
        return lambda state: type_name
    if name == "id":
        return lambda state: to_global_id(type_name, state["id"])
    scalar = TABLES[type_name].scalars.get(name)
    if scalar is None:
        return None
    column, print_ = scalar.column, FORMATS[scalar.format]
    return lambda state: print_(state[column])


def _collect(
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    type_name: str,
) -> list[FieldNode] | None:
    """The fields of a selection set through its fragments; None for what is not plain."""
    found: list[FieldNode] = []
    for node in selection_set.selections if selection_set else ():
        if node.directives:
            return None
        if isinstance(node, FieldNode):
            found.append(node)
            continue
        fragment = _fragment(node, fragments)
        condition = fragment.type_condition if fragment else None
        if fragment is None or (condition is not None and condition.name.value != type_name):
            return None
        inner = _collect(fragment.selection_set, fragments, type_name)
        if inner is None:
            return None
        found += inner
    return found


def _fragment(
    node: SelectionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> InlineFragmentNode | FragmentDefinitionNode | None:
    if isinstance(node, FragmentSpreadNode):
        return fragments.get(node.name.value)
    return node if isinstance(node, InlineFragmentNode) else None


def _key(node: FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value
