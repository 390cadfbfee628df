"""A bounded fuzz run over the HTTP endpoint: whatever a client sends, the answer is handled.

Operations generated from the schema (valid ones, and ones with one schema violation) for every
query and mutation field, with real and malformed ids, cursors and JSON mixed into the random
values, plus hand-made malformed requests, all go through one in-process app. None may answer
5xx, mask an input mistake as INTERNAL, show a stack trace, or leave an error without a code.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import graphql
import hypothesis
import jwt
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from hypothesis_graphql import Mode, nodes
from hypothesis_graphql import strategies as gql_st

from tests.conftest import TEMPLATE, app_client
from tests.factories import (
    TEST_JWT_SECRET,
    make_claims,
    make_generation,
    make_project,
    make_token,
)
from velro_graphql.api.auth import local_user_id
from velro_graphql.api.schema import build_schema
from velro_graphql.api.types.relay import to_global_id
from velro_graphql.config import Settings
from velro_graphql.db.embedded import with_database
from velro_graphql.services.catalog import load_catalog
from velro_graphql.services.pagination import encode_int_key, encode_time_key

SDL = build_schema().as_str()
SCHEMA = graphql.build_schema(SDL)
QUERY_ROOT = SCHEMA.get_type("Query")
MUTATION_ROOT = SCHEMA.get_type("Mutation")
assert isinstance(QUERY_ROOT, graphql.GraphQLObjectType)
assert isinstance(MUTATION_ROOT, graphql.GraphQLObjectType)
CATALOG = load_catalog()

EMAIL = "fuzz@example.com"
OTHER_EMAIL = "someone-else@example.com"
# Rows the fixture creates under these ids, so generated operations can hit real objects.
OWN = {
    "project": uuid.UUID("00000000-0000-4000-8000-00000000f001"),
    "queued": uuid.UUID("00000000-0000-4000-8000-00000000f002"),
    "completed": uuid.UUID("00000000-0000-4000-8000-00000000f003"),
    "failed": uuid.UUID("00000000-0000-4000-8000-00000000f004"),
}
FOREIGN = {
    "project": uuid.UUID("00000000-0000-4000-8000-00000000f101"),
    "generation": uuid.UUID("00000000-0000-4000-8000-00000000f102"),
}
KNOWN_IDS = [
    to_global_id("Project", OWN["project"]),
    *(to_global_id("Generation", OWN[k]) for k in ("queued", "completed", "failed")),
    to_global_id("Project", FOREIGN["project"]),
    to_global_id("Generation", FOREIGN["generation"]),
    to_global_id("User", local_user_id(EMAIL)),
    to_global_id("User", local_user_id(OTHER_EMAIL)),
]


def b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


def cursor(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


ZERO = uuid.UUID(int=0)
CURSORS = [
    encode_time_key(datetime.now(UTC), OWN["project"]),
    encode_time_key(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))), ZERO),
    encode_time_key(datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-14))), ZERO),
    cursor(f"t:2020-01-01T00:00:00|{ZERO}"),
    cursor("t:not-a-date|not-a-uuid"),
    cursor("t:"),
    encode_int_key(1),
    encode_int_key(9_999_999_999_999_999_999),
    cursor("i:-1"),
    cursor("i:²"),
    cursor("i:١٢"),
    cursor("i:"),
    cursor("x:1"),
    cursor(b"\xff\xfe"),
    "",
    "!!!",
    "a" * 199,
    "a" * 5000,
    "\x00",
]
IDS = [
    *KNOWN_IDS,
    "",
    "1",
    "\x00",
    "Project:" + str(OWN["project"]),
    b64("Project:"),
    b64("Project:not-a-uuid"),
    b64(f"Nothing:{ZERO}"),
    b64(f"Generation:{OWN['project']}"),
    b64(f"Project:{OWN['project']}".encode() + b"\xff"),
    b64(b"\xff\xfe\xfd"),
    b64(f"Project:{OWN['project']}").rstrip("="),
    cursor(f"Project:{OWN['project']}"),
    "x" * 10_000,
]
MODEL_IDS = [model.id for model in CATALOG]
PARAMETER_NAMES = sorted({p.name for model in CATALOG for p in model.parameters})
ENUM_VALUES = sorted({v for model in CATALOG for p in model.parameters for v in p.values or ()})
TRICKY_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ufeff",
    "\u202e",
    "💥" * 60,
    "a" * 101,
    "a" * 501,
    "'; DROP TABLE projects; --",
    "%s%n",
    "https://example.com/image.png",
    "http://169.254.169.254/latest/meta-data",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "https://" + "a" * 3000 + ".com/x.png",
]

strings = st.one_of(
    st.text(),
    st.sampled_from(MODEL_IDS + ENUM_VALUES + CURSORS + TRICKY_STRINGS),
)
ids = st.one_of(
    st.text(),
    st.sampled_from(IDS),
    st.builds(
        to_global_id,
        st.sampled_from(["Project", "Generation", "User", "CreditTransaction", ""]),
        st.one_of(st.uuids(), st.text(max_size=40)),
    ),
).map(nodes.String) | st.integers(min_value=-(2**70), max_value=2**70).map(nodes.Int)
json_keys = st.one_of(
    st.sampled_from(PARAMETER_NAMES), st.from_regex(r"[_A-Za-z][_0-9A-Za-z]{0,12}", fullmatch=True)
)
json_leaves = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80).map(nodes.Int),
    st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
    strings.map(nodes.String),
    st.booleans().map(nodes.Boolean),
    st.just(nodes.Null),
)


def json_object(pairs: list[tuple[str, graphql.ValueNode]]) -> graphql.ValueNode:
    return nodes.Object(
        [graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=v) for k, v in pairs]
    )


json_values = st.recursive(
    json_leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(nodes.List),
        st.lists(st.tuples(json_keys, inner), max_size=5, unique_by=lambda p: p[0]).map(
            json_object
        ),
    ),
    max_leaves=12,
)
SCALARS: dict[str, st.SearchStrategy[graphql.ValueNode]] = {
    "ID": ids,
    "String": strings.map(nodes.String),
    "JSON": json_values,
    "DateTime": st.one_of(st.datetimes().map(datetime.isoformat), st.text()).map(nodes.String),
}


def takes_arguments(field: graphql.GraphQLField, seen: set[str]) -> bool:
    """Whether a field, or any field under it, has arguments (to violate in NEGATIVE mode)."""
    if field.args:
        return True
    named = graphql.get_named_type(field.type)
    if not isinstance(named, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType):
        return False
    if named.name in seen:
        return False
    seen.add(named.name)
    return any(takes_arguments(child, seen) for child in named.fields.values())


def operations(kind: Any, root: graphql.GraphQLObjectType, field: str) -> st.SearchStrategy[Any]:
    modes = list(Mode) if takes_arguments(root.fields[field], set()) else [Mode.POSITIVE]
    return st.one_of(
        *(kind(SCHEMA, fields=[field], custom_scalars=SCALARS, mode=mode) for mode in modes)
    )


QUERIES = {field: operations(gql_st.queries, QUERY_ROOT, field) for field in QUERY_ROOT.fields}
MUTATIONS = {
    field: operations(gql_st.mutations, MUTATION_ROOT, field) for field in MUTATION_ROOT.fields
}
fuzz_settings = hypothesis.settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
async def fuzz_http(
    admin_dsn: str, template_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Any]:
    """One app and database for the whole run, signed in as a user with seeded rows."""
    name = f"velro_fuzz_{os.getpid()}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        settings = Settings(
            database_url=with_database(admin_dsn, name),
            velro_home=tmp_path_factory.mktemp("fuzz"),
            supabase_jwt_secret=TEST_JWT_SECRET,
            # Refusals for being too fast would hide what the inputs themselves cause.
            rate_limit_operations_per_minute=1_000_000,
            rate_limit_generations_per_minute=1_000_000,
        )
        async with app_client(settings) as http:
            await seed(http)
            http.headers["Authorization"] = f"Bearer {make_token(EMAIL)}"
            yield http
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def seed(http: Any) -> None:
    """Sign both users in (their first sign-in provisions them), then give them rows."""
    for email in (EMAIL, OTHER_EMAIL):
        first = {"Authorization": f"Bearer {make_token(email)}"}
        reply = await http.post("/graphql", json={"query": "{ me { id } }"}, headers=first)
        assert "errors" not in reply.json(), reply.text
    own, other = local_user_id(EMAIL), local_user_id(OTHER_EMAIL)
    async with http.app.state.services.pool.acquire() as conn:
        await rekey(conn, "projects", await make_project(conn, own), OWN["project"])
        await rekey(conn, "projects", await make_project(conn, other), FOREIGN["project"])
        for status in ("queued", "completed", "failed"):
            made = await make_generation(
                conn, own, project_id=OWN["project"], status=status.upper()
            )
            await rekey(conn, "generations", made, OWN[status])
        made = await make_generation(conn, other, project_id=FOREIGN["project"])
        await rekey(conn, "generations", made, FOREIGN["generation"])
        thumbnails = [{"size": 256, "bucket": "generations", "path": f"{own}/t_256.webp"}]
        await conn.execute(
            "INSERT INTO generation_outputs (generation_id, position, user_id, bucket, path,"
            " content_type, thumbnails) VALUES ($1, 0, $2, 'generations', $3, 'image/png', $4)",
            OWN["completed"],
            own,
            f"{own}/0.png",
            thumbnails,
        )


async def rekey(conn: Any, table: str, made: uuid.UUID, wanted: uuid.UUID) -> None:
    await conn.execute(f"UPDATE {table} SET id = $1 WHERE id = $2", wanted, made)


def error_list(body: str) -> list[Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return []
    errors = parsed.get("errors") if isinstance(parsed, dict) else None
    return errors if isinstance(errors, list) else []


def assert_handled(response: Any, sent: object) -> None:
    """The contract for any request: no 5xx, no stack trace, each error coded, none INTERNAL."""
    text = response.text
    report = f"sent {str(sent)[:3000]}\ngot {response.status_code}: {text[:3000]}"
    assert response.status_code < 500, report
    assert "Traceback" not in text, report
    assert 'File "' not in text, report
    for error in error_list(text):
        code = (error.get("extensions") or {}).get("code") if isinstance(error, dict) else None
        assert code is not None, report
        assert code != "INTERNAL", report


@pytest.mark.parametrize("field", sorted(QUERIES))
@fuzz_settings
@given(data=st.data())
async def test_generated_queries_are_handled(fuzz_http: Any, field: str, data: Any) -> None:
    query = data.draw(QUERIES[field], label="query")
    assert_handled(await fuzz_http.post("/graphql", json={"query": query}), query)


@pytest.mark.parametrize("field", sorted(MUTATIONS))
@fuzz_settings
@given(data=st.data())
async def test_generated_mutations_are_handled(fuzz_http: Any, field: str, data: Any) -> None:
    mutation = data.draw(MUTATIONS[field], label="mutation")
    assert_handled(await fuzz_http.post("/graphql", json={"query": mutation}), mutation)


CONNECTIONS = {
    "projects": "query($first: Int, $after: String) "
    "{ projects(first: $first, after: $after) { totalCount edges { cursor } } }",
    "generations": "query($first: Int, $after: String, $filter: GenerationFilter) "
    "{ generations(first: $first, after: $after, filter: $filter) { totalCount } }",
    "creditTransactions": "query($first: Int, $after: String) "
    "{ creditTransactions(first: $first, after: $after) { totalCount } }",
    "meProjects": "query($first: Int, $after: String) "
    "{ me { projects(first: $first, after: $after) { totalCount } } }",
    "projectGenerations": "query($id: ID!, $first: Int, $after: String) "
    "{ project(id: $id) { generations(first: $first, after: $after) { totalCount } } }",
}
BY_ID = {
    "node": "query($id: ID!) { node(id: $id) { id } }",
    "project": "query($id: ID!) { project(id: $id) { id } }",
    "generation": "query($id: ID!) { generation(id: $id) { id parent { id } project { id } } }",
}
PAYLOAD = "userErrors { field code message }"
INPUT_MUTATIONS = {
    "createProject": "CreateProjectInput",
    "updateProject": "UpdateProjectInput",
    "deleteProject": "DeleteProjectInput",
    "startGeneration": "StartGenerationInput",
    "cancelGeneration": "GenerationIdInput",
    "retryGeneration": "GenerationIdInput",
    "deleteGeneration": "GenerationIdInput",
}
OUTPUTS = (
    "query($id: ID!, $expires: Int, $size: Int!) { generation(id: $id) "
    "{ outputs { url(expiresIn: $expires) thumbnailUrl(size: $size, expiresIn: $expires) } } }"
)
WRONG_INTS = ["ten", "1", 1.5, True, [], {}, 2**31, -(2**31) - 1, 2**70, -(2**70), -1, 101]


def mutation(field: str) -> str:
    return (
        f"mutation($input: {INPUT_MUTATIONS[field]}!) {{ {field}(input: $input) {{ {PAYLOAD} }} }}"
    )


def post(body: object, **headers: str) -> dict[str, Any]:
    return {"method": "POST", "url": "/graphql", "json": body, "headers": headers}


def raw(content: bytes, content_type: str = "application/json") -> dict[str, Any]:
    headers = {"Content-Type": content_type} if content_type else {}
    return {"method": "POST", "url": "/graphql", "content": content, "headers": headers}


def variable_cases() -> list[Any]:
    cases = []
    for name, query in CONNECTIONS.items():
        project = {"id": KNOWN_IDS[0]} if "$id" in query else {}
        for first in WRONG_INTS:
            cases.append(post({"query": query, "variables": {**project, "first": first}}))
        for after in CURSORS:
            cases.append(post({"query": query, "variables": {**project, "after": after}}))
        if name == "generations":
            for bad in ({"status": "NOPE"}, {"projectId": "x"}, {"modelId": 1}, "x", [1]):
                cases.append(post({"query": query, "variables": {"filter": bad}}))
    for query in BY_ID.values():
        for id_ in [*IDS, None, 1, 2**70, 1.5, True, [], {}]:
            cases.append(post({"query": query, "variables": {"id": id_}}))
    for expires in [None, -1, 0, 59, 2**31 - 1, 2**70, "soon"]:
        for size in [256, 512, -1, 0, 2**31 - 1, None]:
            variables = {"id": KNOWN_IDS[2], "expires": expires, "size": size}
            cases.append(post({"query": OUTPUTS, "variables": variables}))
    return cases


def input_cases() -> list[Any]:
    model = MODEL_IDS[0]
    inputs: dict[str, list[Any]] = {
        "createProject": [
            {"name": None},
            {"name": ""},
            {"name": "a" * 101},
            {"name": "a\x00b"},
            {"name": "ok", "description": "d" * 501},
            {"name": "ok", "description": "\x00"},
            {"name": "ok", "visibility": "SECRET"},
            {"name": "ok", "visibility": 1},
            {"name": "ok", "bogus": 1},
            {"name": "x" * 90_000},
        ],
        "updateProject": [{"id": id_, "name": "renamed"} for id_ in IDS]
        + [{"id": KNOWN_IDS[0], "name": n} for n in ("", "\x00", "a" * 101, None)],
        "startGeneration": [
            {"modelId": m, "prompt": "p"} for m in ("nope", "../x", "", "\x00", "a" * 5000)
        ]
        + [{"modelId": model, "prompt": p} for p in ("", "\x00", " " * 10, "p" * 90_000)]
        + [
            {"modelId": model, "prompt": "p", "parameters": params}
            for params in (
                "str",
                [1],
                1,
                {"num_images": 2**70},
                {"num_images": -1},
                {"num_images": "1"},
                {"num_images": 1.5},
                {"seed": 2**70},
                {"seed": -(2**70)},
                {"aspect_ratio": None},
                {"aspect_ratio": "\x00"},
                {"\x00": 1},
                {"nested": json.loads("[" * 200 + "]" * 200)},
                {"nested": json.loads("[" * 900 + "]" * 900)},
                {"x" * 1000: 1},
            )
        ]
        + [
            {"modelId": model, "prompt": "p", "imageUrl": url}
            for url in TRICKY_STRINGS
            if "/" in url or ":" in url
        ]
        + [
            {"modelId": model, "prompt": "p", "negativePrompt": "\x00"},
            {"modelId": model, "prompt": "p", "idempotencyKey": "k" * 10_000},
            {"modelId": model, "prompt": "p", "idempotencyKey": "\x00"},
        ]
        + [{"modelId": model, "prompt": "p", "projectId": id_} for id_ in IDS],
    }
    for field in ("deleteProject", "cancelGeneration", "retryGeneration", "deleteGeneration"):
        inputs[field] = [{"id": id_} for id_ in [*IDS, None, 1, 2**70]]
    cases = []
    for field, values in inputs.items():
        for value in [*values, None, {}, "x", []]:
            cases.append(post({"query": mutation(field), "variables": {"input": value}}))
    return cases


def malformed_cases() -> list[Any]:
    me = "{ me { id } }"
    bodies = [
        b"",
        b"{",
        b"not json",
        b"null",
        b"[]",
        b"[1]",
        b"123",
        json.dumps(me).encode(),
        b'{"query": 1}',
        b'{"query": null}',
        b"{}",
        json.dumps({"query": [me]}).encode(),
        json.dumps([{"query": me}, {"query": me}]).encode(),
        b'{"query": "{ me { id } }", "variables": {"first": NaN}}',
        b'{"query": "{ me { id } }", "variables": {"first": Infinity}}',
        b'{"query": "\\ud800"}',
        b"\xff\xfe\x00",
        b'{"query": "{ me { id } }", "variables": ' + b"[" * 40_000 + b"]" * 40_000 + b"}",
        json.dumps({"query": "{" * 40_000}).encode(),
        json.dumps({"query": me, "variables": {"x": "y" * 99_000}}).encode(),
        json.dumps({"query": me, "variables": {"x": "y" * 200_000}}).encode(),
    ]
    fields: list[dict[str, Any]] = [
        {"variables": "x"},
        {"variables": []},
        {"variables": 1},
        {"operationName": 5},
        {"operationName": "Nope"},
        {"extensions": "x"},
        {"extensions": {"persistedQuery": "x"}},
        {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": 5}}},
        {"extensions": {"persistedQuery": {"version": "x", "sha256Hash": "abc"}}},
        {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}},
        {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "z" * 10_000}}},
    ]
    documents = [
        "query A { me { id } } query B { me { id } }",
        "query($x: Int) { me { id } }",
        "query { me { id } } fragment F on User { id ...F }",
        "subscription { creditsChanged { balance } }",
        "mutation { __typename }",
        "{ __schema { types { name } } }",
        "{ me { " + "id " * 5000 + "} }",
    ]
    return [
        *(raw(body) for body in bodies),
        *(post({"query": me, **extra}) for extra in fields),
        *(post({"extensions": extra["extensions"]}) for extra in fields[-4:]),
        *(post({"query": document}) for document in documents),
        raw(json.dumps({"query": me}).encode(), "text/plain"),
        raw(me.encode(), "application/graphql"),
        raw(b"--x\r\nbroken", "multipart/form-data; boundary=x"),
        raw(b"garbage", "multipart/form-data"),
        raw(b"query=%7B", "application/x-www-form-urlencoded"),
        raw(json.dumps({"query": me}).encode(), ""),
        *(
            {"method": "GET", "url": "/graphql", "params": {"query": me, "variables": variables}}
            for variables in ("{", "5", "[1]", "null", "[" * 5000)
        ),
        {"method": "GET", "url": "/graphql", "params": {"query": "mutation { __typename }"}},
        {"method": "GET", "url": "/graphql", "params": {"query": ""}},
        {"method": "PUT", "url": "/graphql", "json": {"query": me}},
    ]


def signed(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256")


def auth_cases() -> list[Any]:
    me = {"query": "{ me { id } models { id } }"}
    tokens = [
        make_token(EMAIL, sub="not-a-uuid"),
        make_token(EMAIL, sub=None),
        make_token(EMAIL, sub=12),
        make_token(EMAIL, exp=2**70),
        make_token(EMAIL, exp="soon"),
        signed({**make_claims(EMAIL), "email": None}),
        signed({**make_claims(EMAIL), "email": 12}),
        signed({"sub": str(local_user_id(EMAIL))}),
        make_token("x" * 5000 + "@example.com"),
        make_token(EMAIL, aud=["authenticated", 1]),
        "a.b.c",
        "x" * 5000,
    ]
    headers = ["", "Bearer", "Bearer ", "Basic abc", "bearer  x", *(f"Bearer {t}" for t in tokens)]
    return [post(me, Authorization=header) for header in headers] + [
        post(me, **{"X-Request-Id": "../../etc/passwd"}),
        post(me, **{"X-Request-Id": "a" * 5000}),
    ]


async def test_malformed_and_hostile_requests_are_handled(fuzz_http: Any) -> None:
    problems = []
    for request in variable_cases() + input_cases() + malformed_cases() + auth_cases():
        try:
            assert_handled(await fuzz_http.request(**request), request)
        except AssertionError as problem:
            problems.append(str(problem))
        except Exception as crash:  # what escapes the app, a server answers with a 500
            problems.append(f"sent {str(request)[:3000]}\ncrashed: {crash!r}")
    assert not problems, "\n\n".join(problems)
