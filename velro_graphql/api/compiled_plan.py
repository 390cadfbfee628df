"""Planning a compiled read: which documents the compiled path can answer, and how.

The planner knows nothing of its own: fields, lists, links, filters and keysets come from the
read model's declaration, the same one the per-field reads are generated from. A plan is built
once per document text, operation and variables (cached). Anything the declaration does not
cover gives a `Fallback` naming why, and the operation runs per field instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_operation_ast,
    value_from_ast_untyped,
)
from graphql.execution.values import get_variable_values
from graphql.pyutils import Undefined

from velro_graphql.api.types.relay import expect_global_id
from velro_graphql.bounded_cache import BoundedCache
from velro_graphql.errors import VelroError
from velro_graphql.services.pagination import PageArgs, page_query
from velro_graphql.services.read_model import (
    LINKS,
    LISTS,
    TABLES,
    Connection,
    Field,
    ListField,
    ListFilter,
    Object,
    Part,
)

log = logging.getLogger(__name__)

Plan = tuple[Field, ...]


class Unsupported(Exception):
    """The document asks for something the compiled path does not build (args: a reason)."""


@dataclass(frozen=True, slots=True)
class Fallback:
    """Why an operation runs per field: a short, fixed reason (a metrics label)."""

    reason: str


def plan_for(
    schema: GraphQLSchema,
    document: DocumentNode,
    query: str,
    operation_name: str | None,
    variables: Any,
) -> Plan | Fallback | None:
    """The plan for a query strawberry parsed and validated, why it has none, or None for
    what is not a query (mutations and subscriptions are not reads to compile)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation != OperationType.QUERY:
        return None
    if operation.directives:
        return Fallback("directive")
    # Coerced as execution would; invalid variables are left to execution to report.
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    frozen = None if isinstance(coerced, list) else _freeze(coerced.coerced)
    if frozen is None:
        return Fallback("variables")
    key = (query, operation_name, frozen)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _plan(document, operation, {n: _thaw(v) for n, v in frozen})
        _PLANS.put(key, plan)
    return plan


# Plans by document text, operation and variables: a hot query is planned once.
_PLANS = BoundedCache[tuple[str, str | None, tuple[tuple[str, Any], ...]], Plan | Fallback](512)


class _Input(tuple[tuple[str, Any], ...]):
    """A frozen input object variable (its fields sorted), told apart from other tuples."""


def _freeze(variables: dict[str, Any]) -> tuple[tuple[str, Any], ...] | None:
    """Variables as a hashable key: enums as their values, input objects as `_Input`s; None
    for anything else (lists, say), which runs per field."""
    try:
        return tuple(sorted((name, _frozen(value)) for name, value in variables.items()))
    except TypeError:
        return None


def _frozen(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return _Input(sorted((name, _frozen(v)) for name, v in value.items()))
    if value is None or isinstance(value, str | int | datetime):
        return value
    raise TypeError(type(value).__name__)


def _thaw(value: Any) -> Any:
    return {name: _thaw(v) for name, v in value} if isinstance(value, _Input) else value


def _plan(
    document: DocumentNode, operation: OperationDefinitionNode, variables: dict[str, Any]
) -> Plan | Fallback:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    try:
        return _Planner(fragments, variables).root(operation)
    except Unsupported as unsupported:
        return Fallback(unsupported.args[0])
    except VelroError:  # a bad argument: per-field execution reports it
        return Fallback("invalid_argument")
    except Exception:  # a planner bug must cost speed, not the answer: per-field execution runs
        log.exception("could not plan a compiled read")
        return Fallback("planner_error")


class _Planner:
    def __init__(
        self, fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]
    ) -> None:
        self.fragments = fragments
        self.variables = variables

    def root(self, operation: OperationDefinitionNode) -> Plan:
        return tuple(self.field(n, "Query") for n in self.selections(operation.selection_set))

    def selections(
        self, selection_set: SelectionSetNode | None, type_name: str = "Query"
    ) -> list[FieldNode]:
        """The fields of a selection set through fragments (each response key at most once)."""
        return _distinct(self._collect(selection_set, type_name))

    def _collect(self, selection_set: SelectionSetNode | None, type_name: str) -> list[FieldNode]:
        found: list[FieldNode] = []
        for node in selection_set.selections if selection_set else ():
            if node.directives:
                raise Unsupported("directive")
            if isinstance(node, FieldNode):
                found.append(node)
            elif isinstance(node, InlineFragmentNode):
                self._check_condition(node.type_condition, type_name)
                found += self._collect(node.selection_set, type_name)
            elif isinstance(node, FragmentSpreadNode):
                fragment = self.fragments[node.name.value]
                self._check_condition(fragment.type_condition, type_name)
                found += self._collect(fragment.selection_set, type_name)
        return found

    @staticmethod
    def _check_condition(condition: Any, type_name: str) -> None:
        if condition is not None and condition.name.value != type_name:
            raise Unsupported("type_condition")

    def fields(self, selection_set: SelectionSetNode | None, type_name: str) -> tuple[Field, ...]:
        return tuple(self.field(n, type_name) for n in self.selections(selection_set, type_name))

    def field(self, node: FieldNode, type_name: str) -> Field:
        key, name = _key(node), node.name.value
        if name == "__typename":
            return Field(key, "literal", type_name)
        if name == "id" and type_name in TABLES:
            return Field(key, "global_id", type_name)
        scalar = TABLES[type_name].scalars.get(name) if type_name in TABLES else None
        if scalar is not None and not node.arguments:
            return Field(key, scalar.format, scalar.column)
        if (type_name, name) in LISTS:
            return Field(key, "connection", child=self.connection(node, LISTS[type_name, name]))
        if (type_name, name) in LINKS and not node.arguments:
            link = LINKS[type_name, name]
            fields = self.fields(node.selection_set, link.node)
            return Field(key, "object", child=Object(TABLES[link.node], fields, link.column))
        raise Unsupported("field")

    def connection(self, node: FieldNode, declared: ListField) -> Connection:
        args = self.arguments(node)
        filters = self.filters(args.pop("filter", None), declared)
        order = args.pop("orderBy", None) or {}
        if set(args) - {"first", "after", "last", "before"} or not isinstance(order, dict):
            raise Unsupported("argument")
        page = PageArgs(
            **args,
            order_by=order.get("field", "CREATED_AT"),
            descending=order.get("direction", "DESC") == "DESC",
        )
        query = page_query(page, declared.orderings, None)
        return Connection(
            table=TABLES[declared.node],
            order=query.order,
            parts=tuple(
                self.part(n, declared.node)
                for n in self.selections(node.selection_set, f"{declared.node}Connection")
            ),
            first=query.limit - 1,
            cursor=query.cursor,
            filters=filters,
            parent_column=declared.parent_column,
        )

    def arguments(self, node: FieldNode) -> dict[str, Any]:
        values = {
            a.name.value: value_from_ast_untyped(a.value, self.variables)
            for a in node.arguments or ()
        }
        # A variable the request left out is an argument not given.
        return {name: value for name, value in values.items() if value is not Undefined}

    @staticmethod
    def filters(given: Any, declared: ListField) -> tuple[tuple[Any, Any], ...]:
        if given is None:
            return ()
        if not isinstance(given, dict) or set(given) - set(declared.filters):
            raise Unsupported("argument")
        found = []
        for name, value in given.items():
            if value is not None:
                f = declared.filters[name]
                found.append((f, _filter_value(f, name, value)))
        return tuple(found)

    def part(self, node: FieldNode, type_name: str) -> Part:
        key, name = _key(node), node.name.value
        if name == "totalCount":
            return (key, "totalCount", None)
        if name == "__typename":
            return (key, "typename", f"{type_name}Connection")
        if name == "nodes":
            return (key, "nodes", self.fields(node.selection_set, type_name))
        if name == "pageInfo":
            infos = self.selections(node.selection_set, "PageInfo")
            return (key, "pageInfo", tuple(self._page_info(n) for n in infos))
        if name == "edges":
            edges = self.selections(node.selection_set, f"{type_name}Edge")
            return (key, "edges", tuple(self._edge(n, type_name) for n in edges))
        raise Unsupported("field")

    @staticmethod
    def _page_info(node: FieldNode) -> Part:
        if node.name.value == "__typename":
            return (_key(node), "typename", "PageInfo")
        return (_key(node), node.name.value, None)

    def _edge(self, node: FieldNode, type_name: str) -> Part:
        name = node.name.value
        if name == "cursor":
            return (_key(node), "cursor", None)
        if name == "__typename":
            return (_key(node), "typename", f"{type_name}Edge")
        if name == "node":
            return (_key(node), "node", self.fields(node.selection_set, type_name))
        raise Unsupported("field")


def _filter_value(f: ListFilter, name: str, value: Any) -> Any:
    """A filter's value as per-field execution would pass it to the same SQL."""
    if isinstance(value, datetime) and f.cast == "timestamptz":  # a coerced variable
        return value
    if f.cast == "boolean":
        if not isinstance(value, bool):
            raise Unsupported("argument")
        return value
    if not isinstance(value, str):
        raise Unsupported("argument")
    if f.global_id_of is not None:
        return expect_global_id(value, f.global_id_of, field=f"filter.{name}")
    if f.cast == "timestamptz":
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise Unsupported("argument") from None
    return value


_MAX_KEYS = 50  # json_build_object takes at most 100 arguments


def _distinct(nodes: list[FieldNode]) -> list[FieldNode]:
    """Refuse what per-field execution would merge: a response key selected twice."""
    keys = [_key(node) for node in nodes]
    if len(set(keys)) != len(keys) or len(keys) > _MAX_KEYS:
        raise Unsupported("repeated_key")
    return nodes


def _key(node: FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value
