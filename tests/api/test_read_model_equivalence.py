"""Both read paths answer alike, tested by generation: documents built from the read model's
declaration (every declared field, nested lists and links, every supported argument, random
pages and cursors, another user's ids) run over HTTP compiled and per field, over rows where
every column is filled, and their `data` must be the same bytes (once Postgres's spacing is
taken out: the values, their types and the order of keys are compared)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from graphql import parse

from tests.conftest import app_client
from tests.factories import make_generation, make_project, make_token
from velro_graphql.api.compiled_plan import Fallback, plan_for
from velro_graphql.api.context import Context
from velro_graphql.api.schema import build_schema
from velro_graphql.api.types.relay import to_global_id
from velro_graphql.services.pagination import encode_key
from velro_graphql.services.read_model import LINKS, LISTS, TABLES, ListField, fetch_json

DOCUMENTS = 300
STATUSES = ("QUEUED", "IN_PROGRESS", "COMPLETED", "FAILED", "CANCELLED")
MODELS = ("fal-ai/flux-pro", "fal-ai/aura-flow")
CONNECTION_PARTS = ("totalCount", "pageInfo", "edges", "nodes", "__typename")
ENUM_FIELDS = ("status", "mediaType", "field", "direction")
PAGE_INFO = ("hasNextPage", "hasPreviousPage", "startCursor", "endCursor", "__typename")


class Seeded:
    """Two users' rows, every column filled; the ids and cursors documents may name."""

    def __init__(self, caller: Any) -> None:
        self.caller = caller
        self.project_ids: list[str] = []  # global ids, the caller's and another user's
        self.cursors: dict[tuple[str, str], list[str]] = {}  # (type, cursor tag) -> cursors


async def _fill(conn: Any, rng: random.Random, user_id: uuid.UUID, seeded: Seeded) -> None:
    base = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    projects = []
    for n in range(4):
        project = await make_project(
            conn, user_id, name=f'P{n} "q"\n✨', description=f"about {n} \\ '",
            visibility=rng.choice(("private", "public")),
        )  # fmt: skip
        await conn.execute(
            "UPDATE projects SET tags = $2, created_at = $3 WHERE id = $1",
            project, [f"t{n}", "ü"][: n % 3], _moment(rng, base),
        )  # fmt: skip
        projects.append(project)
    for n in range(14):
        project_id = rng.choice([*projects, None])
        generation = await make_generation(
            conn, user_id, project_id=project_id, status=rng.choice(STATUSES),
            model_id=rng.choice(MODELS), prompt=f"prompt {n} 'ünï' \u2028 \\",
        )  # fmt: skip
        await _fill_generation(conn, rng, generation, base, n)
    seeded.project_ids += [to_global_id("Project", p) for p in projects]


async def _fill_generation(
    conn: Any, rng: random.Random, id_: uuid.UUID, base: datetime, n: int
) -> None:
    created: Any = (
        base if n % 5 == 0 else _moment(rng, base)
    )  # some share a created_at: ids break ties
    await conn.execute(
        "UPDATE generations SET negative_prompt = $2, image_url = $3, queue_position = $4,"
        " progress = $5, favorite = $6, created_at = $7, started_at = $8,"
        # completed_at only where the status is terminal (a CHECK says so)
        " completed_at = CASE WHEN completed_at IS NOT NULL THEN $9::timestamptz END"
        " WHERE id = $1",
        id_, f"no {n}", f"https://example.com/{n}.png", rng.randint(0, 9),
        rng.choice([0.0625, 0.1875, 1.0, 0.0, rng.random()]), rng.random() < 0.5, created,
        created + timedelta(seconds=1.5), created + timedelta(seconds=3),
    )  # fmt: skip


def _moment(rng: random.Random, base: datetime) -> datetime:
    micro = rng.choice([0, rng.randint(1, 999_999)])  # whole seconds print no fraction
    return base + timedelta(seconds=rng.randint(0, 10_000), microseconds=micro)


@pytest.fixture
async def seeded(client: Any) -> Seeded:
    rng = random.Random(20260)
    caller = await client.user("alice@example.com")
    other = await client.user("bob@example.com")
    seeded = Seeded(caller)
    async with client.services.pool.acquire() as conn:
        await conn.execute(
            "UPDATE profiles SET display_name = 'Ålice', plan = 'pro' WHERE id = $1",
            caller.user_id,
        )
        await _fill(conn, rng, caller.user_id, seeded)
        await _fill(conn, rng, other.user_id, seeded)
        # One of the caller's generations in another user's project: both walls must hide it.
        await conn.execute(
            "UPDATE generations SET project_id = (SELECT id FROM projects WHERE user_id = $2"
            " LIMIT 1) WHERE id = (SELECT id FROM generations WHERE user_id = $1 LIMIT 1)",
            caller.user_id, other.user_id,
        )  # fmt: skip
        for declared in LISTS.values():
            rows = await conn.fetch(f"SELECT * FROM {TABLES[declared.node].name}")
            for keyset in declared.orderings.values():
                seeded.cursors[declared.node, keyset.tag] = [
                    encode_key(keyset, [r[c] for c in keyset.columns])
                    for r in rows
                    if r[keyset.columns[0]] is not None
                ]
    return seeded


class Documents:
    """Random documents over what the declaration says both paths read."""

    def __init__(self, rng: random.Random, seeded: Seeded) -> None:
        self.rng = rng
        self.seeded = seeded
        self.keys = 0
        self.variables: dict[str, Any] = {}
        self.definitions: list[str] = []

    def document(self) -> tuple[str, dict[str, Any]]:
        self.variables, self.definitions = {}, []
        roots = [name for parent, name in (*LISTS, *LINKS) if parent == "Query"]
        picked = self.rng.sample(roots, self.rng.randint(1, len(roots)))
        body = " ".join(self.field("Query", name, depth=0) for name in picked)
        head = f"({', '.join(self.definitions)})" if self.definitions else ""
        return f"query Generated{head} {{ {body} }}", dict(self.variables)

    def field(self, parent: str, name: str, depth: int) -> str:
        key = self.key(name)
        if (parent, name) in LISTS:
            declared = LISTS[parent, name]
            return f"{key}{self.arguments(declared)} {{ {self.connection(declared, depth)} }}"
        return f"{key} {{ {self.object(LINKS[parent, name].node, depth + 1)} }}"

    def object(self, type_name: str, depth: int) -> str:
        names = ["id", "__typename", *TABLES[type_name].scalars]
        picked = [self.key(n) for n in self.rng.sample(names, self.rng.randint(1, len(names)))]
        for parent, name in (*LISTS, *LINKS):
            if parent == type_name and depth < 3 and self.rng.random() < 0.6:
                picked.append(self.field(parent, name, depth))
        if self.rng.random() < 0.2:  # through an inline fragment on the same type
            return f"... on {type_name} {{ {' '.join(picked)} }}"
        return " ".join(picked)

    def connection(self, declared: ListField, depth: int) -> str:
        parts = self.rng.sample(CONNECTION_PARTS, self.rng.randint(1, len(CONNECTION_PARTS)))
        return " ".join(
            f"{self.key(part)}{self.part(part, declared.node, depth)}" for part in parts
        )

    def part(self, name: str, node: str, depth: int) -> str:
        if name == "pageInfo":
            return f" {{ {' '.join(self.some(PAGE_INFO))} }}"
        if name == "nodes":
            return f" {{ {self.object(node, depth + 1)} }}"
        if name == "edges":
            edge = " ".join(self.some(("cursor", "__typename")))
            return f" {{ {edge} node {{ {self.object(node, depth + 1)} }} }}"
        return ""  # totalCount, __typename

    def arguments(self, declared: ListField) -> str:
        ordering = self.rng.choice(list(declared.orderings))
        cursors = self.seeded.cursors[declared.node, declared.orderings[ordering].tag]
        size, cursor = ("last", "before") if self.rng.random() < 0.4 else ("first", "after")
        args = {
            size: self.rng.choice([None, 0, 1, 2, 3, 5, 100]),
            cursor: self.rng.choice([None, *cursors[:40]]),
        }
        given = [self.argument(name, value) for name, value in args.items() if value is not None]
        if ordering != next(iter(declared.orderings)) or self.rng.random() < 0.5:
            order = {"field": ordering, "direction": self.rng.choice(["ASC", "DESC", None])}
            given.append(self.input_argument("orderBy", f"{declared.node}Order", order))
        if declared.filters and self.rng.random() < 0.7:
            given.append(
                self.input_argument("filter", f"{declared.node}Filter", self.filter(declared))
            )
        return f"({', '.join(given)})" if given else ""

    def input_argument(self, name: str, type_name: str, value: dict[str, Any]) -> str:
        """An input object, as a variable now and then, else inline (enums as names)."""
        given = {k: v for k, v in value.items() if v is not None}
        if self.rng.random() < 0.3:
            variable = f"v{len(self.variables)}"
            self.variables[variable] = given
            self.definitions.append(f"${variable}: {type_name}")
            return f"{name}: ${variable}"
        fields = " ".join(
            f"{k}: {v if k in ENUM_FIELDS else orjson.dumps(v).decode()}" for k, v in given.items()
        )
        return f"{name}: {{ {fields} }}"

    def argument(self, name: str, value: Any) -> str:
        if self.rng.random() < 0.3:  # as a variable
            variable = f"v{len(self.variables)}"
            self.variables[variable] = value
            kind = "Int" if name in ("first", "last") else "String"
            self.definitions.append(f"${variable}: {kind}")
            return f"{name}: ${variable}"
        return f"{name}: {orjson.dumps(value).decode()}"

    def filter(self, declared: ListField) -> dict[str, Any]:
        text = self.rng.choice
        moment = text(["2026-03-04T06:00:00+00:00", "2026-03-04T05:06:07Z", "2026-03-04T07:30:00"])
        values = {
            "status": self.rng.choice(STATUSES),
            "modelId": text(MODELS),
            "projectId": text(self.seeded.project_ids),
            "mediaType": self.rng.choice(["IMAGE", "VIDEO"]),
            "favorite": self.rng.choice([True, False]),
            "search": text(["prompt", "PROMPT 3", "ünï", "ÜNÏ prompt", "nothing", "3"]),
            "createdAfter": moment,
            "createdBefore": moment,
            "tag": text(["t1", "ü", "none"]),
        }
        if declared.node == "Project":
            values["search"] = text(["p1", "Q", "✨", "zz"])
        names = self.rng.sample(list(declared.filters), self.rng.randint(1, len(declared.filters)))
        return {name: values[name] for name in names}

    def some(self, names: tuple[str, ...]) -> list[str]:
        return [self.key(n) for n in self.rng.sample(names, self.rng.randint(1, len(names)))]

    def key(self, name: str) -> str:
        """The field, under a fresh alias now and then (so repeated fields stay distinct)."""
        self.keys += 1
        return f"k{self.keys}: {name}" if self.rng.random() < 0.25 else name


def _roomy(settings: Any) -> Any:
    """Limits that let generated documents run (their cost and aliases are not under test)."""
    return settings.model_copy(
        update={
            "rate_limit_operations_per_minute": 1_000_000,
            "max_query_cost": 10_000_000,
            "max_query_aliases": 1000,
            "max_query_tokens": 100_000,
            "max_query_depth": 50,
        }
    )


def _schemas(client: Any) -> tuple[Any, Any]:
    roomy = _roomy(client.services.settings)
    return build_schema(roomy), build_schema(roomy.model_copy(update={"compiled_reads": False}))


async def _data(http: Any, document: str, variables: Any) -> bytes:
    """The response's `data`, keys in the order sent, each value as sent (1 and 1.0 differ),
    re-encoded compactly: Postgres spaces its JSON differently, which is not data."""
    reply = await http.post("/graphql", json={"query": document, "variables": variables})
    body = orjson.loads(reply.content)
    assert reply.status_code == 200 and "errors" not in body, (document, body)
    return orjson.dumps(body["data"])


async def test_generated_documents_give_the_same_bytes_on_both_paths(
    client: Any, seeded: Seeded
) -> None:
    settings = _roomy(client.services.settings)
    schema = build_schema(settings)
    documents = Documents(random.Random(9), seeded)
    headers = {"Authorization": f"Bearer {make_token('alice@example.com')}"}
    async with (
        app_client(settings) as fast,
        app_client(settings.model_copy(update={"compiled_reads": False})) as slow,
    ):
        fast.headers.update(headers)
        slow.headers.update(headers)
        for _ in range(DOCUMENTS):
            document, variables = documents.document()
            plan = plan_for(schema._schema, parse(document), document, "Generated", variables)
            assert isinstance(plan, tuple), (document, plan)  # the compiled path, no fallback
            compiled = await _data(fast, document, variables)
            assert compiled == await _data(slow, document, variables), document


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("{ generations { nodes { outputs { url } } } }", "field"),
        ("{ me @skip(if: false) { id } }", "directive"),
        ("{ projects(first: 101) { totalCount } }", "invalid_argument"),
        ('{ generations(filter: {projectId: "UHJvamVjdDox"}) { totalCount } }', "invalid_argument"),
    ],
)
async def test_what_the_declaration_lacks_falls_back_and_is_counted(
    client: Any, seeded: Seeded, document: str, reason: str
) -> None:
    compiled, per_field = _schemas(client)
    metrics = client.services.metrics
    before = metrics.compiled_fallbacks.labels(reason)._value.get()
    context = Context(client.services, caller=seeded.caller)
    fast = await compiled.execute(document, context_value=context)
    slow = await per_field.execute(
        document, context_value=Context(client.services, caller=seeded.caller)
    )
    assert orjson.dumps(fast.data) == orjson.dumps(slow.data)
    assert [e.message for e in fast.errors or ()] == [e.message for e in slow.errors or ()]
    assert metrics.compiled_fallbacks.labels(reason)._value.get() == before + 1


def test_a_fallback_names_its_reason(client: Any) -> None:
    compiled, _ = _schemas(client)
    document = "{ models { id } }"
    assert plan_for(compiled._schema, parse(document), document, None, {}) == Fallback("field")


async def test_the_compiled_statement_filters_by_owner_without_row_level_security(
    client: Any, seeded: Seeded
) -> None:
    document = (
        "{ generations(first: 100) { nodes { project { id } } } me { projects { totalCount } } }"
    )
    compiled, _ = _schemas(client)
    plan = plan_for(compiled._schema, parse(document), document, None, {})
    assert isinstance(plan, tuple)
    async with client.services.pool.acquire() as conn:  # the service's: no row-level security
        data = orjson.loads(await fetch_json(conn, seeded.caller.user_id, plan))
    nodes = data["generations"]["nodes"]
    assert len(nodes) == 14 and data["me"]["projects"]["totalCount"] == 4
    # One of them is filed in another user's project: the join must not reach it.
    seen = {n["project"]["id"] for n in nodes if n["project"]}
    assert seen <= set(seeded.project_ids[:4]) and None in [n["project"] for n in nodes]
