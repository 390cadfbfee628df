"""Reads that Postgres answers as one JSON document, in one statement.

A plan (built from `db.read_model`'s declaration) says which keys to build from which
columns; this module turns it into SQL with rows, json_build_object and json_agg, so a whole page of
projects with a page of generations each comes back as the response's JSON without a row
reaching Python. Both walls hold: every table it reads is filtered by its owner column, and
the caller runs it in the operation's caller transaction, where row-level security applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

from velro_graphql.bounded_cache import BoundedCache
from velro_graphql.db.read_model import (
    FORMAT_SQL,
    PLAN_PER_VALUE,
    Format,
    Keyset,
    ListFilter,
    Order,
    Table,
    after_keyset,
    cursor_sql,
    filter_sql,
    in_ordering,
    order_by,
    source_sql,
)
from velro_graphql.db.session import Queryable

Kind = Format | Literal["global_id", "literal", "object", "connection"]

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
    table: Table
    fields: tuple[Field, ...]
    via: str | None = None  # the outer row's column holding its id; None: the caller's own row


@dataclass(frozen=True)
class Connection:
    table: Table
    order: Order
    parts: tuple[Part, ...]
    first: int  # the page size, asked as `first` or `last`
    cursor: tuple[Any, ...] | None = None  # `after`, or `before` when the order walks backwards
    filters: tuple[tuple[ListFilter, Any], ...] = ()
    parent_column: str | None = None  # e.g. project_id, matched to the outer row's id


@dataclass
class _Builder:
    params: list[Any] = field(default_factory=list)
    aliases: int = 0
    plan_per_value: bool = False
    sources: dict[str, str] = field(default_factory=dict)  # rows' SQL -> its CTE's name

    def param(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params) + 1}"

    def alias(self) -> str:
        self.aliases += 1
        return f"t{self.aliases}"

    def source(self, rows: str) -> str:
        """A name for rows that the statement reads once, however many times it uses them."""
        return self.sources.setdefault(rows, f"s{len(self.sources) + 1}")

    def with_clause(self) -> str:
        ctes = ", ".join(f"{name} AS MATERIALIZED (SELECT * FROM {rows})"
                         for rows, name in self.sources.items())  # fmt: skip
        return f"WITH {ctes} " if ctes else ""


async def fetch_json_text(conn: Queryable, user_id: UUID, root: tuple[Field, ...]) -> str | None:
    """Run a plan; return the `data` object as JSON text, or None when a root field is null
    (the caller then lets per-field execution report why)."""
    statement = _statement(root)
    if statement.plan_per_value:
        await conn.execute(PLAN_PER_VALUE)
    text: str | None = await conn.fetchval(statement.sql, user_id, *statement.params)
    return text


@dataclass(frozen=True, slots=True)
class _Statement:
    root: tuple[Field, ...]  # held, so that its id is not reused while the entry lives
    sql: str
    params: tuple[Any, ...]
    plan_per_value: bool


# Statements by plan object: plans are cached (api/compiled_plan.py), the same object for the
# same document and variables, so a hot query's SQL text is built once.
_STATEMENTS = BoundedCache[int, _Statement](512)


def _statement(root: tuple[Field, ...]) -> _Statement:
    found = _STATEMENTS.get(id(root))
    if found is None or found.root is not root:
        found = _build(root)
        _STATEMENTS.put(id(root), found)
    return found


def _build(root: tuple[Field, ...]) -> _Statement:
    builder = _Builder()
    # Each root value is computed once, as a column, so its SQL NULL can be tested without
    # parsing the JSON again (OFFSET 0 keeps the planner from inlining, and so repeating, it).
    columns = ", ".join(f"{_field_expr(builder, f, None)} AS r{n}" for n, f in enumerate(root))
    # IS DISTINCT FROM NULL: an object is a row, and a row of NULLs IS NULL; it is present.
    present = " AND ".join(f"r{n} IS DISTINCT FROM NULL" for n in range(len(root)))
    pairs = ", ".join(f"'{_key(f.key)}', r{n}" for n, f in enumerate(root))
    sql = (
        f"{builder.with_clause()}"
        f"SELECT CASE WHEN {present} THEN json_build_object({pairs})::text END"
        f" FROM (SELECT {columns} OFFSET 0) AS data"
    )
    return _Statement(root, sql, tuple(builder.params), builder.plan_per_value)


def _object_expr(b: _Builder, fields: tuple[Field, ...], outer: str | None) -> str:
    return _json_object([(f.key, _field_expr(b, f, outer)) for f in fields])


# Postgres cuts longer column names short (NAMEDATALEN): such keys stay in json_build_object.
_MAX_COLUMN_NAME = 63
_ROW = '"*row"'  # a row alias no GraphQL key can equal


def _json_object(pairs: list[tuple[str, str]]) -> str:
    """A JSON object of (key, SQL value) pairs, as a row whose columns are the keys: Postgres
    prints a row as JSON for about a quarter less than json_build_object, which looks up each
    argument's type on every call. The row is a subquery: no value may aggregate the enclosing
    query's rows (connections and pageInfo, which do, use json_build_object)."""
    if any(len(key) > _MAX_COLUMN_NAME for key, _ in pairs):
        return "json_build_object(" + ", ".join(f"'{_key(k)}', {v}" for k, v in pairs) + ")"
    columns = ", ".join(f'{value} AS "{_key(key)}"' for key, value in pairs)
    return f"(SELECT {_ROW} FROM (SELECT {columns}) {_ROW})"


def _field_expr(b: _Builder, f: Field, row: str | None) -> str:
    if f.kind in FORMAT_SQL:
        return FORMAT_SQL[f.kind].format(column=f"{row}.{f.value}")  # type: ignore[index]
    if f.kind == "global_id":
        return f"velro.global_id('{_key(f.value)}', {row}.id)"
    if f.kind == "literal":
        return f"'{_key(f.value)}'"
    if isinstance(f.child, Object):
        return _nested_object(b, f.child, row)
    assert isinstance(f.child, Connection)
    return _connection(b, f.child, row)


def _nested_object(b: _Builder, obj: Object, outer: str | None) -> str:
    alias = b.alias()
    where = f"{alias}.{obj.table.owner} = $1"  # both walls: row-level security and this
    if obj.via is not None:
        where += f" AND {alias}.id = {outer}.{obj.via}"
    body = _object_expr(b, obj.fields, alias)
    return f"(SELECT {body} FROM {obj.table.name} {alias} WHERE {where})"


def _connection(b: _Builder, c: Connection, outer: str | None) -> str:
    alias, page = b.alias(), b.alias()
    source, match = _rows(b, c), _match(b, c, alias, outer)
    keyset, descending = c.order.keyset, c.order.scan_descending
    after = ""
    if c.cursor is not None:
        params = [b.param(v) for v in c.cursor]
        after = " AND " + after_keyset(keyset, params, descending, alias)
    first = f"{b.param(c.first)}::int"
    order = order_by(keyset, descending, alias)
    rows = (
        f"SELECT {alias}.*, row_number() OVER (ORDER BY {order}) AS rn"
        f" FROM {source} {alias} WHERE {match}{after} ORDER BY {order} LIMIT {first} + 1"
    )
    total = f"(SELECT count(*) FROM {source} {alias} WHERE {match})"
    parts = ", ".join(
        f"'{_key(key)}', {_part(b, c, page, what, sub, total, first)}" for key, what, sub in c.parts
    )
    # GROUP BY (): one row even when no part aggregates (only totalCount, say) and for no rows.
    return f"(SELECT json_build_object({parts}) FROM ({rows}) {page} GROUP BY ())"


def _rows(b: _Builder, c: Connection) -> str:
    """What the connection reads: its table, or the rows its first filter with a source gives
    (read once for the count and the page); `_match` applies the other filters to them."""
    f, value = _sourced(c) or (None, None)
    return c.table.name if f is None else b.source(source_sql(f, b.param(value)))


def _sourced(c: Connection) -> tuple[ListFilter, Any] | None:
    return next(((f, v) for f, v in c.filters if f.source is not None), None)


def _match(b: _Builder, c: Connection, alias: str, outer: str | None) -> str:
    conditions = [f"{alias}.{c.table.owner} = $1{in_ordering(c.order.keyset, alias)}"]
    if c.parent_column is not None:
        conditions.append(f"{alias}.{c.parent_column} = {outer}.id")
    sourced = _sourced(c)
    for f, value in c.filters:
        if sourced is not None and f is sourced[0]:
            continue
        b.plan_per_value |= f.plan_per_value
        conditions.append(filter_sql(f, f"{alias}.{f.column}", b.param(value)))
    return " AND ".join(conditions)


def _part(
    b: _Builder, c: Connection, page: str, what: str, sub: Any, total: str, first: str
) -> str:
    in_page = f"{page}.rn <= {first}"
    order = f"ORDER BY {page}.rn{' DESC' if c.order.backward else ''}"
    keyset = c.order.keyset
    cursor = cursor_sql(keyset, [f"{page}.{column}" for column in keyset.columns])
    if what == "totalCount":
        return total
    if what == "typename":
        return f"'{_key(sub)}'"
    if what == "pageInfo":
        return _page_info(c, sub, page, in_page, first)
    if what == "nodes":
        node = _object_expr(b, sub, page)
        return f"coalesce(json_agg({node} {order}) FILTER (WHERE {in_page}), '[]')"
    edge = _json_object([
        (k, cursor if w == "cursor" else
            f"'{_key(s)}'" if w == "typename" else _object_expr(b, s, page))
        for k, w, s in sub
    ])  # fmt: skip
    return f"coalesce(json_agg({edge} {order}) FILTER (WHERE {in_page}), '[]')"


def _page_info(c: Connection, sub: tuple[Part, ...], page: str, in_page: str, first: str) -> str:
    more, given = f"count(*) > {first}", "true" if c.cursor is not None else "false"
    # Rows are numbered in the scan's order: backwards, the page's first row is the last one.
    start, end = ("DESC", "ASC") if c.order.backward else ("ASC", "DESC")
    exprs = {
        "hasNextPage": given if c.order.backward else more,
        "hasPreviousPage": more if c.order.backward else given,
        "startCursor": _edge_cursor(c.order.keyset, page, in_page, start),
        "endCursor": _edge_cursor(c.order.keyset, page, in_page, end),
    }
    pairs = ", ".join(
        f"'{_key(k)}', " + (f"'{_key(s)}'" if w == "typename" else exprs[w]) for k, w, s in sub
    )
    return f"json_build_object({pairs})"


def _edge_cursor(keyset: Keyset, page: str, in_page: str, direction: str) -> str:
    """The cursor of the page's first or last row, formatted once, not once per row."""
    values = [
        f"(array_agg({page}.{column} ORDER BY {page}.rn {direction}) FILTER (WHERE {in_page}))[1]"
        for column in keyset.columns
    ]
    return cursor_sql(keyset, values)


def _key(text: str) -> str:
    # Keys are GraphQL names (validated: [_A-Za-z][_0-9A-Za-z]*); refuse anything else.
    if not text.replace("_", "a").isalnum() or not text.isascii():
        raise ValueError(f"not a GraphQL name: {text!r}")
    return text
