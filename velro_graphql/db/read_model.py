"""The read model, declared once: how each field maps to its column and format, how each list
pages (its keyset per ordering) and filters, and who owns a row.

Both read paths are generated from it: the per-field reads' SELECT lists, keyset conditions,
orderings and filters (db/projects.py, db/generations.py), and the compiled JSON statement
(db/json_reads.py, planned by api/compiled_plan.py). A test builds documents from it and
requires both paths to answer them byte for byte alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

Format = Literal["value", "upper", "fraction", "iso"]


@dataclass(frozen=True, slots=True)
class Scalar:
    """A field read from one column, formatted as the GraphQL type prints it."""

    column: str
    format: Format = "value"


@dataclass(frozen=True, slots=True)
class Table:
    """A GraphQL type's table; a caller sees the rows whose `owner` column is their id."""

    type_name: str
    name: str
    owner: str
    scalars: Mapping[str, Scalar]


@dataclass(frozen=True, slots=True)
class Keyset:
    """An ordering: rows by `columns` (the last one unique), descending or ascending. A cursor
    carries a row's values after `tag`, so a cursor of one ordering is refused by another.
    With `skips_nulls`, rows whose first column is NULL are not in the ordering's list."""

    columns: tuple[str, ...]
    casts: tuple[str, ...]
    tag: str
    skips_nulls: bool = False


@dataclass(frozen=True, slots=True)
class Order:
    """How a page reads a list: the keyset, its direction, and whether the page walks
    backwards from its cursor (`last`/`before`), which scans the other way."""

    keyset: Keyset
    descending: bool = True
    backward: bool = False

    @property
    def scan_descending(self) -> bool:
        return self.descending != self.backward


@dataclass(frozen=True, slots=True)
class ListFilter:
    """One field of a list's `filter` argument: rows where `condition` holds, with `{c}` the
    column and `{v}` the value cast to `cast`."""

    column: str
    cast: str
    condition: str = "{c} = {v}"
    global_id_of: str | None = None  # the value is a global id of this type
    # How many rows match depends so much on the value that a plan made without it (a generic
    # plan of a prepared statement) can scan every row: plan statements using it per value.
    plan_per_value: bool = False
    # A set-returning function of ($1 the owner, `{v}` the value) giving the matching rows
    # themselves: the compiled statement reads them once and counts and pages from them.
    source: str | None = None


def rows_from(function: str, cast: str) -> ListFilter:
    """A filter whose matches `function(owner, value)` returns as rows of the list's table: the
    per-field path tests ids against them, the compiled path reads from them."""
    source = f"{function}($1, {{v}})"
    condition = f"{{c}} IN (SELECT id FROM {source})"
    return ListFilter("id", cast, condition, plan_per_value=True, source=source)


NEWEST_FIRST = Keyset(("created_at", "id"), ("timestamptz", "uuid"), tag="t")


@dataclass(frozen=True, slots=True)
class ListField:
    """A connection: its nodes' type, the column tying them to the parent row, its filters
    and its orderings (the first one is the default)."""

    node: str
    parent_column: str | None = None
    filters: Mapping[str, ListFilter] = field(default_factory=dict)
    orderings: Mapping[str, Keyset] = field(default_factory=lambda: {"CREATED_AT": NEWEST_FIRST})

    @property
    def keyset(self) -> Keyset:
        return next(iter(self.orderings.values()))


@dataclass(frozen=True, slots=True)
class Link:
    """A single object: its type, and the parent's column holding its id (None: the caller)."""

    node: str
    column: str | None


TABLES: Mapping[str, Table] = {
    "User": Table("User", "profiles", owner="id", scalars={
        "email": Scalar("email"), "displayName": Scalar("display_name"), "plan": Scalar("plan"),
        "creditsBalance": Scalar("credits_balance"), "createdAt": Scalar("created_at", "iso"),
    }),
    "Project": Table("Project", "projects", owner="user_id", scalars={
        "name": Scalar("name"), "description": Scalar("description"),
        "visibility": Scalar("visibility", "upper"), "tags": Scalar("tags"),
        "generationCount": Scalar("generation_count"), "createdAt": Scalar("created_at", "iso"),
        "updatedAt": Scalar("updated_at", "iso"),
    }),
    "Generation": Table("Generation", "generations", owner="user_id", scalars={
        "status": Scalar("status"), "modelId": Scalar("model_id"), "prompt": Scalar("prompt"),
        "negativePrompt": Scalar("negative_prompt"), "cost": Scalar("cost"),
        "provider": Scalar("provider"), "queuePosition": Scalar("queue_position"),
        "progress": Scalar("progress", "fraction"), "favorite": Scalar("favorite"),
        "imageUrl": Scalar("image_url"), "createdAt": Scalar("created_at", "iso"),
        "startedAt": Scalar("started_at", "iso"), "completedAt": Scalar("completed_at", "iso"),
        "updatedAt": Scalar("updated_at", "iso"),
    }),
}  # fmt: skip

GENERATION_FILTERS: Mapping[str, ListFilter] = {
    "status": ListFilter("status", "text"),
    "projectId": ListFilter("project_id", "uuid", global_id_of="Project"),
    "modelId": ListFilter("model_id", "text"),
    "mediaType": ListFilter(
        "model_id", "text", "{c} IN (SELECT id FROM models WHERE media_type = lower({v}))"
    ),
    "favorite": ListFilter("favorite", "boolean"),
    # Words of the prompt, any case, through the GIN index of migration 0008 (see its note and
    # 0010's); $1 is the owner in every statement of both paths.
    "search": rows_from("velro.generations_matching", "text"),
    "createdAfter": ListFilter("created_at", "timestamptz", "{c} >= {v}"),
    "createdBefore": ListFilter("created_at", "timestamptz", "{c} < {v}"),
}
GENERATION_ORDERINGS: Mapping[str, Keyset] = {
    "CREATED_AT": NEWEST_FIRST,
    "COMPLETED_AT": Keyset(("completed_at", "id"), ("timestamptz", "uuid"), "d", True),
    "COST": Keyset(("cost", "id"), ("int", "uuid"), tag="c"),
}
PROJECT_FILTERS: Mapping[str, ListFilter] = {
    "search": ListFilter("name", "text", "strpos(lower({c}), lower({v})) > 0"),
    "tag": ListFilter("tags", "text", "{v} = ANY({c})"),
}
PROJECT_ORDERINGS: Mapping[str, Keyset] = {
    "CREATED_AT": NEWEST_FIRST,
    "UPDATED_AT": Keyset(("updated_at", "id"), ("timestamptz", "uuid"), tag="u"),
    "NAME": Keyset(("name", "id"), ("text", "uuid"), tag="n"),
}
_PROJECTS = ListField("Project", filters=PROJECT_FILTERS, orderings=PROJECT_ORDERINGS)

# (parent type, field) -> a connection or an object, for every list and link both paths read.
LISTS: Mapping[tuple[str, str], ListField] = {
    ("Query", "projects"): _PROJECTS,
    ("User", "projects"): _PROJECTS,
    ("Query", "generations"): ListField(
        "Generation", filters=GENERATION_FILTERS, orderings=GENERATION_ORDERINGS
    ),
    ("Project", "generations"): ListField(
        "Generation", "project_id", GENERATION_FILTERS, GENERATION_ORDERINGS
    ),
}
LINKS: Mapping[tuple[str, str], Link] = {
    ("Query", "me"): Link("User", None),
    ("Generation", "project"): Link("Project", "project_id"),
}

FORMAT_SQL: Mapping[Format, str] = {
    "value": "{column}",
    "upper": "upper({column})",
    # JSON text as Python prints the float: 0.063, 0.5, 1.0 (never 1 or 0.500).
    "fraction": r"regexp_replace(rtrim(round({column}::numeric, 3)::text, '0'), '\.$', '.0')::json",
    "iso": "velro.iso({column})",
}


def round_fraction(value: float | None) -> float | None:
    """A stored `real` fraction to 3 decimals exactly as the "fraction" SQL rounds and prints
    it: Postgres reads a real as its 6 significant digits and rounds halves up."""
    if value is None:
        return None
    return float(Decimal(f"{value:.6g}").quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))


def order_by(keyset: Keyset, descending: bool, alias: str = "") -> str:
    """The ORDER BY list of a keyset."""
    prefix = f"{alias}." if alias else ""
    direction = "DESC" if descending else "ASC"
    return ", ".join(f"{prefix}{column} {direction}" for column in keyset.columns)


def after_keyset(keyset: Keyset, params: Sequence[str], descending: bool, alias: str = "") -> str:
    """Rows after the cursor's row in the scan's direction: its values as `params`
    (placeholders), compared as a row."""
    prefix = f"{alias}." if alias else ""
    row = ", ".join(prefix + column for column in keyset.columns)
    values = ", ".join(f"{p}::{cast}" for p, cast in zip(params, keyset.casts, strict=True))
    return f"({row}) {'<' if descending else '>'} ({values})"


def optional_after_keyset(keyset: Keyset, first_param: int, descending: bool) -> str:
    """`after_keyset` on consecutive parameters, true when the first one is NULL (no cursor)."""
    params = [f"${first_param + n}" for n in range(len(keyset.columns))]
    test = after_keyset(keyset, params, descending)
    return f"(${first_param}::{keyset.casts[0]} IS NULL OR {test})"


def in_ordering(keyset: Keyset, alias: str = "") -> str:
    """The condition a row must meet to be in the keyset's list at all."""
    prefix = f"{alias}." if alias else ""
    return f" AND {prefix}{keyset.columns[0]} IS NOT NULL" if keyset.skips_nulls else ""


PLAN_PER_VALUE = "SET LOCAL plan_cache_mode = force_custom_plan"


def filter_sql(f: ListFilter, column: str, value: str) -> str:
    """One filter's condition on a column reference and a value's SQL."""
    return f.condition.format(c=column, v=f"{value}::{f.cast}")


def source_sql(f: ListFilter, value: str) -> str:
    """The rows of a filter with a `source`, as SQL, for a value's SQL."""
    assert f.source is not None
    return f.source.format(v=f"{value}::{f.cast}")


def optional_filters(filters: Mapping[str, ListFilter], first_param: int) -> str:
    """Each filter on its own parameter, in declared order; a NULL parameter matches all rows
    (so one statement text serves every combination)."""
    return "".join(
        f" AND (${n}::{f.cast} IS NULL OR {filter_sql(f, f.column, f'${n}')})"
        for n, f in enumerate(filters.values(), start=first_param)
    )


def cursor_sql(keyset: Keyset, values: Sequence[str]) -> str:
    """A cursor as SQL, from the SQL of the row's keyset values: what the per-field path's
    `services.pagination` encodes in Python (`tag:v1|v2`, URL-safe base64 without padding)."""
    parts = " || '|' || ".join(
        FORMAT_SQL["iso"].format(column=v) if cast == "timestamptz" else f"{v}::text"
        for v, cast in zip(values, keyset.casts, strict=True)
    )
    text = f"convert_to('{keyset.tag}:' || {parts}, 'UTF8')"
    return f"rtrim(translate(replace(encode({text}, 'base64'), E'\\n', ''), '+/', '-_'), '=')"
