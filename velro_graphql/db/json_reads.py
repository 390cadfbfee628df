"""Reads that Postgres answers as one JSON document, in one statement.

A `Plan` says which keys to build from which columns; this module turns it into SQL with
json_build_object and json_agg, so a whole page of projects with a page of generations each
comes back as the response's JSON without a row reaching Python. The caller runs it in the
operation's caller transaction, so row-level security applies as it does to every read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal
from uuid import UUID

from velro_graphql.db.session import Queryable

Kind = Literal["column", "upper", "fraction", "iso", "global_id", "literal", "object", "connection"]

# Connection parts: totalCount, pageInfo.<x>, edges.<cursor|node|__typename>, nodes, __typename
Part = tuple[str, str, Any]


@dataclass(frozen=True)
class Field:
    """One key of a JSON object and how to compute it."""

    key: str
    kind: Kind
    value: str = ""  # column name, GraphQL type name (global ids) or literal text
    child: Object | Connection | None = None


@dataclass(frozen=True)
class Object:
    table: str
    fields: tuple[Field, ...]
    # For a nested object: its key column and the outer column it matches.
    join: tuple[str, str] | None = None


@dataclass(frozen=True)
class Connection:
    table: str
    parts: tuple[Part, ...]
    first: int
    after: tuple[Any, UUID] | None = None
    filters: tuple[tuple[str, Any], ...] = ()
    parent_column: str | None = None  # e.g. project_id, matched to the outer row's id


@dataclass
class _Builder:
    params: list[Any] = field(default_factory=list)
    aliases: int = 0

    def param(self, value: Any, cast: str) -> str:
        self.params.append(value)
        return f"${len(self.params) + 1}::{cast}"

    def alias(self) -> str:
        self.aliases += 1
        return f"t{self.aliases}"


async def fetch_json_text(conn: Queryable, user_id: UUID, root: tuple[Field, ...]) -> str | None:
    """Run a plan; return the `data` object as JSON text, or None when a root field is null
    (the caller then lets per-field execution report why)."""
    builder = _Builder()
    # Each root value is computed once, as a column, so its SQL NULL can be tested without
    # parsing the JSON again (OFFSET 0 keeps the planner from inlining, and so repeating, it).
    columns = ", ".join(f"{_field_expr(builder, f, None)} AS r{n}" for n, f in enumerate(root))
    present = " AND ".join(f"r{n} IS NOT NULL" for n in range(len(root)))
    pairs = ", ".join(f"'{_key(f.key)}', r{n}" for n, f in enumerate(root))
    sql = (
        f"SELECT CASE WHEN {present} THEN json_build_object({pairs})::text END"
        f" FROM (SELECT {columns} OFFSET 0) AS data"
    )
    text: str | None = await conn.fetchval(sql, user_id, *builder.params)
    return text


def _object_expr(b: _Builder, fields: tuple[Field, ...], outer: str | None) -> str:
    pairs = ", ".join(f"'{_key(f.key)}', {_field_expr(b, f, outer)}" for f in fields)
    return f"json_build_object({pairs})"


def _field_expr(b: _Builder, f: Field, row: str | None) -> str:
    column = f"{row}.{f.value}" if row else f.value
    if f.kind in _FORMATS:
        return _FORMATS[f.kind].format(column=column)
    if f.kind == "global_id":
        return f"velro.global_id('{_key(f.value)}', {row}.id)"
    if f.kind == "literal":
        return f"'{_key(f.value)}'"
    if isinstance(f.child, Object):
        return _nested_object(b, f.child, row)
    assert isinstance(f.child, Connection)
    return _connection(b, f.child, row)


_FORMATS = {
    "column": "{column}",
    "upper": "upper({column})",
    "fraction": "round({column}::numeric, 3)::float8",
    "iso": "velro.iso({column})",
}


def round_fraction(value: float | None) -> float | None:
    """A stored `real` fraction (progress) to 3 decimals exactly as the "fraction" SQL above
    rounds it: Postgres reads a real as its 6 significant digits and rounds halves up."""
    if value is None:
        return None
    return float(Decimal(f"{value:.6g}").quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))


def _nested_object(b: _Builder, obj: Object, outer: str | None) -> str:
    alias = b.alias()
    if obj.join is None:  # the caller's own profile
        where = f"{alias}.id = $1"
    else:
        key, outer_column = obj.join
        where = f"{alias}.{key} = {outer}.{outer_column}"
    body = _object_expr(b, obj.fields, alias)
    return f"(SELECT {body} FROM {obj.table} {alias} WHERE {where})"


def _connection(b: _Builder, c: Connection, outer: str | None) -> str:
    alias, page = b.alias(), b.alias()
    match = _match(b, c, alias, outer)
    keyset = ""
    if c.after is not None:
        stamp, id_ = c.after
        keyset = (
            f" AND ({alias}.created_at, {alias}.id) < "
            f"({b.param(stamp, 'timestamptz')}, {b.param(id_, 'uuid')})"
        )
    first = b.param(c.first, "int")
    rows = (
        f"SELECT {alias}.*, row_number() OVER (ORDER BY {alias}.created_at DESC, {alias}.id DESC)"
        f" AS rn FROM {c.table} {alias} WHERE {match}{keyset}"
        f" ORDER BY {alias}.created_at DESC, {alias}.id DESC LIMIT {first} + 1"
    )
    total = f"(SELECT count(*) FROM {c.table} {alias} WHERE {match})"
    parts = ", ".join(
        f"'{_key(key)}', {_part(b, c, page, what, sub, total, first)}" for key, what, sub in c.parts
    )
    # GROUP BY (): one row even when no part aggregates (only totalCount, say) and for no rows.
    return f"(SELECT json_build_object({parts}) FROM ({rows}) {page} GROUP BY ())"


def _match(b: _Builder, c: Connection, alias: str, outer: str | None) -> str:
    conditions = [f"{alias}.user_id = $1"]
    if c.parent_column is not None:
        conditions.append(f"{alias}.{c.parent_column} = {outer}.id")
    for column, value in c.filters:
        cast = "uuid" if column.endswith("_id") and column != "model_id" else "text"
        conditions.append(f"{alias}.{column} = {b.param(value, cast)}")
    return " AND ".join(conditions)


def _part(
    b: _Builder, c: Connection, page: str, what: str, sub: Any, total: str, first: str
) -> str:
    in_page = f"{page}.rn <= {first}"
    order = f"ORDER BY {page}.rn"
    cursor = f"velro.cursor({page}.created_at, {page}.id)"
    if what == "totalCount":
        return total
    if what == "typename":
        return f"'{_key(sub)}'"
    if what == "pageInfo":
        return _page_info(sub, page, in_page, cursor, first, c.after is not None)
    if what == "nodes":
        node = _object_expr(b, sub, page)
        return f"coalesce(json_agg({node} {order}) FILTER (WHERE {in_page}), '[]')"
    edge = ", ".join(
        f"'{_key(k)}', " + (cursor if w == "cursor" else
                            f"'{_key(s)}'" if w == "typename" else _object_expr(b, s, page))
        for k, w, s in sub
    )  # fmt: skip
    return f"coalesce(json_agg(json_build_object({edge}) {order}) FILTER (WHERE {in_page}), '[]')"


def _page_info(
    sub: tuple[Part, ...], page: str, in_page: str, cursor: str, first: str, after: bool
) -> str:
    exprs = {
        "hasNextPage": f"count(*) > {first}",
        "hasPreviousPage": "true" if after else "false",
        "startCursor": f"(array_agg({cursor} ORDER BY {page}.rn) FILTER (WHERE {in_page}))[1]",
        "endCursor": f"(array_agg({cursor} ORDER BY {page}.rn DESC) FILTER (WHERE {in_page}))[1]",
    }
    pairs = ", ".join(
        f"'{_key(k)}', " + (f"'{_key(s)}'" if w == "typename" else exprs[w]) for k, w, s in sub
    )
    return f"json_build_object({pairs})"


def _key(text: str) -> str:
    # Keys are GraphQL names (validated: [_A-Za-z][_0-9A-Za-z]*); refuse anything else.
    if not text.replace("_", "a").isalnum() or not text.isascii():
        raise ValueError(f"not a GraphQL name: {text!r}")
    return text
