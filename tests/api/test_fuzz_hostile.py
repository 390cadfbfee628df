"""Hand-made malformed and hostile requests through the HTTP endpoint: wrong variables and
inputs, broken bodies and content types, and bad credentials. Each answer must be handled."""

from __future__ import annotations

import json
from typing import Any

import jwt

from tests.api.auth_tokens import hand_made_token
from tests.api.fuzz_app import (
    CURSORS,
    EMAIL,
    IDS,
    KNOWN_IDS,
    MODEL_IDS,
    TRICKY_STRINGS,
    assert_handled,
)
from tests.factories import TEST_JWT_SECRET, make_claims, make_token
from velro_graphql.api.auth import local_user_id

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


SURROGATES = ["\ud800", "a\udfffb", "\ud83d", "\udc00\ud800"]
HUGE = "9" * 5000


def escaped(body: object) -> dict[str, Any]:
    """A JSON body with its non-ASCII escaped: the only way to send a lone surrogate."""
    return raw(json.dumps(body).encode())


def second_round_cases() -> list[Any]:
    """Shapes from the second abuse round: surrogates, nested JSON, huge integers, costly
    defaults and introspection."""
    model = MODEL_IDS[0]
    start = mutation("startGeneration")
    inputs = [
        *({"modelId": model, "prompt": text} for text in SURROGATES),
        {"modelId": model, "prompt": "p", "negativePrompt": SURROGATES[0]},
        {"modelId": model, "prompt": "p", "idempotencyKey": SURROGATES[1]},
        {"modelId": model, "prompt": "p", "parameters": {SURROGATES[0]: 1}},
        {"modelId": model, "prompt": "p", "parameters": {"aspect_ratio": SURROGATES[2]}},
        {"modelId": SURROGATES[0], "prompt": "p"},
        {
            "modelId": model,
            "prompt": "p",
            "parameters": {"n": json.loads('{"a":' * 300 + "1" + "}" * 300)},
        },
    ]
    cases = [escaped({"query": start, "variables": {"input": value}}) for value in inputs]
    cases += [
        escaped({"query": mutation("createProject"), "variables": {"input": {"name": text}}})
        for text in SURROGATES
    ]
    cases += [
        escaped({"query": CONNECTIONS["generations"], "variables": {"filter": {"modelId": t}}})
        for t in SURROGATES
    ]
    cases += [
        raw(b'{"query": "{ me { id } }", "variables": {"n": ' + HUGE.encode() + b"}}"),
        raw(
            b'{"query": "query($n: Int) { projects(first: $n) { totalCount } }", '
            b'"variables": {"n": ' + HUGE.encode() + b"}}"
        ),
        raw(
            b'{"query": "{ me { id } }", "variables": {"a": '
            + b'{"a": ' * 5000
            + b"1"
            + b"}" * 5000
            + b"}}"
        ),
        post({"query": f"{{ projects(first: {HUGE}) {{ totalCount }} }}"}),
        post({"query": f"query($n: Int = {HUGE}) {{ projects(first: $n) {{ totalCount }} }}"}),
        post(
            {
                "query": "query($n: Int = 100) { projects(first: $n) { nodes {"
                " generations(first: $n) { nodes { id } } } } }"
            }
        ),
        post(
            {
                "query": "{ "
                + " ".join(f"a{n}: __schema {{ types {{ name }} }}" for n in range(30))
                + " }"
            }
        ),
        escaped({"query": "# \ud800\n{ me { id } }"}),
    ]
    return cases


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
        *(
            hand_made_token({"alg": alg}, make_claims(EMAIL), TEST_JWT_SECRET.encode())
            for alg in (["HS256"], {"HS256": 1}, ["none"], None, 2**70)
        ),
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
    cases = variable_cases() + input_cases() + malformed_cases() + auth_cases()
    for request in cases + second_round_cases():
        try:
            assert_handled(await fuzz_http.request(**request), request)
        except AssertionError as problem:
            problems.append(str(problem))
        except Exception as crash:  # what escapes the app, a server answers with a 500
            problems.append(f"sent {str(request)[:3000]}\ncrashed: {crash!r}")
    assert not problems, "\n\n".join(problems)
