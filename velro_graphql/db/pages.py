"""Per-field list pages, generated from the read model: one statement text per list, ordering
and scan direction, with every declared filter on its own parameter (NULL: not filtering)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar, cast
from uuid import UUID

from velro_graphql.db.read_model import (
    LISTS,
    PLAN_PER_VALUE,
    TABLES,
    Keyset,
    Order,
    in_ordering,
    optional_after_keyset,
    optional_filters,
    order_by,
)
from velro_graphql.db.rows import columns, to_entity
from velro_graphql.db.session import Queryable

E = TypeVar("E")

_FIRST_CURSOR_PARAM = 4  # $1 owner, $2 parent ids, $3 limit


@dataclass(frozen=True, slots=True)
class PageQuery:
    """One page's arguments: the order, rows to fetch, the cursor's values (None: from the
    start) and the filter (a dataclass whose fields are the filters' names in snake case)."""

    order: Order
    limit: int
    cursor: tuple[Any, ...] | None
    filter_: object | None = None


async def fetch_pages(
    conn: Queryable,
    entity: type[E],
    list_: tuple[str, str],
    user_id: UUID,
    parents: list[UUID] | None,
    query: PageQuery,
) -> dict[UUID | None, tuple[list[E], int]]:
    """Return one page and its total per parent (or, for a list without one, under None)."""
    order, declared = query.order, LISTS[list_]
    sql = _statement(columns(cast(Any, entity), "g"), list_, order.keyset, order.scan_descending)
    cursor = query.cursor or (None,) * len(order.keyset.columns)
    filters = [getattr(query.filter_, _snake(name), None) for name in declared.filters]
    keys = parents if parents is not None else [None]
    given = zip(declared.filters.values(), filters, strict=True)
    if any(f.plan_per_value and value is not None for f, value in given):
        await conn.execute(PLAN_PER_VALUE)
    rows = await conn.fetch(sql, user_id, keys, query.limit, *cursor, *filters)
    pages: dict[UUID | None, tuple[list[E], int]] = {k: ([], 0) for k in keys}
    for row in rows:
        items, _ = pages[row["key"]]
        if row["id"] is not None:
            items.append(to_entity(entity, row, 2))
        pages[row["key"]] = (items, row["total"])
    return pages


@cache
def _statement(select: str, list_: tuple[str, str], keyset: Keyset, descending: bool) -> str:
    declared = LISTS[list_]
    table = TABLES[declared.node]
    match = f"{table.owner} = $1{in_ordering(keyset)}"
    if declared.parent_column is not None:
        match += f" AND {declared.parent_column} = k.parent_id"
    match += optional_filters(declared.filters, _FIRST_CURSOR_PARAM + len(keyset.columns))
    after = optional_after_keyset(keyset, _FIRST_CURSOR_PARAM, descending)
    return f"""
SELECT k.parent_id AS key, t.total, {select}
FROM unnest($2::uuid[]) AS k (parent_id)
CROSS JOIN LATERAL (SELECT count(*) AS total FROM {table.name} WHERE {match}) AS t
LEFT JOIN LATERAL (
    SELECT * FROM {table.name} WHERE {match} AND {after}
    ORDER BY {order_by(keyset, descending)} LIMIT $3
) AS g ON true
"""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
