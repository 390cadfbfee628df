"""Planning a compiled read: which documents `db.json_reads` can answer, and how.

A plan is built once per document text, operation and variables (cached). Anything the
planner does not know raises `Unsupported`, and the operation runs per field instead.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
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

from velro_graphql.errors import VelroError
from velro_graphql.services.compiled_reads import Connection, Field, Object, Part
from velro_graphql.services.generations.reads import STATUSES
from velro_graphql.services.pagination import check_first, decode_time_key

log = logging.getLogger(__name__)

Plan = tuple[Field, ...] | None

_SCALARS: dict[str, dict[str, tuple[str, str]]] = {
    "User": {
        "email": ("column", "email"), "displayName": ("column", "display_name"),
        "avatarUrl": ("column", "avatar_url"), "plan": ("column", "plan"),
        "creditsBalance": ("column", "credits_balance"), "createdAt": ("iso", "created_at"),
    },
    "Project": {
        "name": ("column", "name"), "description": ("column", "description"),
        "visibility": ("upper", "visibility"), "tags": ("column", "tags"),
        "generationCount": ("column", "generation_count"), "createdAt": ("iso", "created_at"),
        "updatedAt": ("iso", "updated_at"),
    },
    "Generation": {
        "status": ("column", "status"), "modelId": ("column", "model_id"),
        "prompt": ("column", "prompt"), "negativePrompt": ("column", "negative_prompt"),
        "cost": ("column", "cost"), "provider": ("column", "provider"),
        "queuePosition": ("column", "queue_position"), "progress": ("fraction", "progress"),
        "favorite": ("column", "favorite"), "imageUrl": ("column", "image_url"),
        "createdAt": ("iso", "created_at"), "startedAt": ("iso", "started_at"),
        "completedAt": ("iso", "completed_at"), "updatedAt": ("iso", "updated_at"),
    },
}  # fmt: skip
_TABLES = {"User": "profiles", "Project": "projects", "Generation": "generations"}


class Unsupported(Exception):
    """The document asks for something the compiled path does not build."""


def plan_for(
    schema: GraphQLSchema,
    document: DocumentNode,
    query: str,
    operation_name: str | None,
    variables: Any,
) -> tuple[Field, ...] | None:
    """The plan for an operation strawberry parsed and validated, or None (per-field then)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation != OperationType.QUERY or operation.directives:
        return None
    # Coerced as execution would; invalid variables are left to execution to report.
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    frozen = None if isinstance(coerced, list) else _freeze(coerced.coerced)
    if frozen is None:
        return None
    key = (query, operation_name, frozen)
    if key in _PLANS:
        _PLANS.move_to_end(key)
        return _PLANS[key]
    plan = _PLANS[key] = _plan(document, operation, dict(frozen))
    if len(_PLANS) > _MAX_PLANS:
        _PLANS.popitem(last=False)
    return plan


# Plans by document text, operation and variables: a hot query is planned once.
_PLANS: OrderedDict[tuple[str, str | None, tuple[tuple[str, Any], ...]], Plan] = OrderedDict()
_MAX_PLANS = 512


def _freeze(variables: dict[str, Any]) -> tuple[tuple[str, Any], ...] | None:
    items = sorted(variables.items())
    if not all(isinstance(v, str | int | bool | None) for _, v in items):
        return None
    return tuple(items)


def _plan(
    document: DocumentNode, operation: OperationDefinitionNode, variables: dict[str, Any]
) -> Plan:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    try:
        return _Planner(fragments, variables).root(operation)
    except (Unsupported, VelroError):
        return None
    except Exception:  # a planner bug must cost speed, not the answer: per-field execution runs
        log.exception("could not plan a compiled read")
        return None


class _Planner:
    def __init__(
        self, fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]
    ) -> None:
        self.fragments = fragments
        self.variables = variables

    def root(self, operation: OperationDefinitionNode) -> tuple[Field, ...]:
        fields = []
        for node in self.selections(operation.selection_set, "Query"):
            key, name = _key(node), node.name.value
            if name == "me":
                fields.append(Field(key, "object", child=self.object(node, "User", None)))
            elif name in ("projects", "generations"):
                type_name = "Project" if name == "projects" else "Generation"
                fields.append(Field(key, "connection", child=self.connection(node, type_name)))
            else:
                raise Unsupported(name)
        return tuple(fields)

    def selections(self, selection_set: SelectionSetNode | None, type_name: str) -> list[FieldNode]:
        """The fields of a selection set through fragments (each response key at most once)."""
        return _distinct(self._collect(selection_set, type_name))

    def _collect(self, selection_set: SelectionSetNode | None, type_name: str) -> list[FieldNode]:
        found: list[FieldNode] = []
        for node in selection_set.selections if selection_set else ():
            if node.directives:
                raise Unsupported("directives")
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
            raise Unsupported("type condition")

    def object(self, node: FieldNode, type_name: str, join: tuple[str, str] | None) -> Object:
        return Object(_TABLES[type_name], self.fields(node.selection_set, type_name), join)

    def fields(self, selection_set: SelectionSetNode | None, type_name: str) -> tuple[Field, ...]:
        return tuple(self.field(n, type_name) for n in self.selections(selection_set, type_name))

    def field(self, node: FieldNode, type_name: str) -> Field:
        key, name = _key(node), node.name.value
        if name == "__typename":
            return Field(key, "literal", type_name)
        if name == "id":
            return Field(key, "global_id", type_name)
        if name in _SCALARS[type_name] and not node.arguments:
            kind, column = _SCALARS[type_name][name]
            return Field(key, kind, column)  # type: ignore[arg-type]
        if (type_name, name) == ("User", "projects"):
            return Field(key, "connection", child=self.connection(node, "Project"))
        if (type_name, name) == ("Project", "generations"):
            child = self.connection(node, "Generation", parent_column="project_id")
            return Field(key, "connection", child=child)
        if (type_name, name) == ("Generation", "project"):
            return Field(key, "object", child=self.object(node, "Project", ("id", "project_id")))
        raise Unsupported(f"{type_name}.{name}")

    def connection(
        self, node: FieldNode, type_name: str, parent_column: str | None = None
    ) -> Connection:
        args = self.arguments(node)
        filters = self.filters(args.pop("filter", None)) if type_name == "Generation" else ()
        if set(args) - {"first", "after"}:
            raise Unsupported("arguments")
        return Connection(
            table=_TABLES[type_name],
            parts=tuple(self.part(n, type_name) for n in self.selections(node.selection_set, "")),
            first=check_first(args.get("first")),
            after=decode_time_key(args.get("after")),
            filters=filters,
            parent_column=parent_column,
        )

    def arguments(self, node: FieldNode) -> dict[str, Any]:
        values = {
            a.name.value: value_from_ast_untyped(a.value, self.variables)
            for a in node.arguments or ()
        }
        # A variable the request left out is an argument not given.
        return {name: value for name, value in values.items() if value is not Undefined}

    @staticmethod
    def filters(given: Any) -> tuple[tuple[str, Any], ...]:
        if given is None:
            return ()
        if not isinstance(given, dict) or set(given) - {"status", "modelId"}:
            raise Unsupported("filter")
        if given.get("status") is not None and given["status"] not in STATUSES:
            raise Unsupported("status")
        pairs = (("status", given.get("status")), ("model_id", given.get("modelId")))
        return tuple((column, value) for column, value in pairs if value is not None)

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
            edges = self.selections(node.selection_set, "")
            return (key, "edges", tuple(self._edge(n, type_name) for n in edges))
        raise Unsupported(name)

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
        raise Unsupported(name)


_MAX_KEYS = 50  # json_build_object takes at most 100 arguments


def _distinct(nodes: list[FieldNode]) -> list[FieldNode]:
    """Refuse what per-field execution would merge: a response key selected twice."""
    keys = [_key(node) for node in nodes]
    if len(set(keys)) != len(keys) or len(keys) > _MAX_KEYS:
        raise Unsupported("repeated response keys")
    return nodes


def _key(node: FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value
