"""Abuse resistance over HTTP: rate limits, query limits, persisted queries, masking, edges."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import app_client
from tests.factories import TEST_JWT_SECRET, make_token
from velro_graphql.api.persisted import sha256_hex
from velro_graphql.config import Settings
from velro_graphql.services import projects

ME = {"query": "{ me { creditsBalance } }"}


def bearer(email: str = "alice@example.com") -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(email)}"}


async def post(http: Any, body: dict[str, Any], **headers: str) -> Any:
    return await http.post("/graphql", json=body, headers={**bearer(), **headers})


def code(reply: Any) -> str:
    return str(reply.json()["errors"][0]["extensions"]["code"])


async def test_the_61st_operation_in_a_minute_is_refused_with_a_retry_hint(http: Any) -> None:
    for _ in range(60):
        assert "errors" not in (await post(http, ME)).json()
    create = {"query": 'mutation { createProject(input: {name: "x"}) { project { id } } }'}
    refused = await post(http, create)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    error = refused.json()["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["retryAfter"] >= 1
    async with http.app.state.services.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM projects") == 0
    other_user = await http.post("/graphql", json=ME, headers=bearer("bob@example.com"))
    assert "errors" not in other_user.json()


async def test_the_11th_generation_start_in_a_minute_is_refused(http: Any) -> None:
    start = {
        "query": 'mutation { startGeneration(input: {modelId: "fal-ai/aura-flow", prompt: "p"})'
        " { generation { id } userErrors { code } } }"
    }
    for _ in range(10):
        assert (await post(http, start)).json()["data"]["startGeneration"]["generation"]
    refused = await post(http, start)
    assert code(refused) == "RATE_LIMITED"
    assert refused.json()["errors"][0]["extensions"]["retryAfter"] >= 1
    balance = (await post(http, ME)).json()["data"]["me"]["creditsBalance"]
    assert balance == 1000 - 10 * 6  # 1 image x 6, ten times


def nested(depth: int) -> str:
    inner = "id"
    for _ in range(depth):
        inner = f"generations(first: 1) {{ edges {{ node {{ project {{ {inner} }} }} }} }}"
    return "{ projects(first: 1) { edges { node { " + inner + " } } } }"


@pytest.mark.parametrize(
    ("query", "limit"),
    [
        (nested(8), "depth"),
        ("{ " + " ".join(f"a{n}: me {{ id }}" for n in range(200)) + " }", "alias"),
        (
            "{ projects(first: 100) { edges { node { generations(first: 100) { edges { node {"
            " project { generations(first: 100) { edges { node { id } } } } } } } } } } }",
            "cost",
        ),
        ("{ me { " + " ".join(["id"] * 4000) + " } }", "tokens"),
    ],
)
async def test_oversized_queries_are_refused_before_any_sql(
    http: Any, query: str, limit: str
) -> None:
    await post(http, ME)  # sign in first: provisioning is SQL too
    statements: list[str] = []
    pool = http.app.state.services.pool
    async with pool.acquire() as conn:
        conn.add_query_logger(lambda q: statements.append(q.query))
    reply = await post(http, {"query": query})
    assert code(reply) == "BAD_USER_INPUT", reply.json()
    assert limit in reply.json()["errors"][0]["message"].lower()
    assert statements == []


async def test_a_one_megabyte_document_is_refused(http: Any) -> None:
    reply = await post(http, {"query": "{ me { id } }" + " " * 1_000_000})
    assert reply.status_code == 413
    assert code(reply) == "BAD_USER_INPUT"


async def test_cost_is_reported_like_shopify(http: Any) -> None:
    reply = await post(
        http,
        {"query": "{ me { projects(first: 10) { edges { node { generations(first: 10)"
         " { edges { node { id } } } } } } } }"},
    )  # fmt: skip
    cost = reply.json()["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 10 + 10 * 10 + 1
    assert cost["throttleStatus"]["maximumAvailable"] == 60
    assert cost["throttleStatus"]["currentlyAvailable"] == 59


async def test_automatic_persisted_queries_round_trip(http: Any) -> None:
    query = "{ me { creditsBalance } }"
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(query)}}
    unknown = await post(http, {"extensions": persisted})
    assert code(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    registered = await post(http, {"query": query, "extensions": persisted})
    assert registered.json()["data"]["me"]["creditsBalance"] == 1000
    by_hash = await post(http, {"extensions": persisted})
    assert by_hash.json()["data"]["me"]["creditsBalance"] == 1000
    mismatch = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    assert code(await post(http, {"query": query, "extensions": mismatch})) == "BAD_USER_INPUT"


async def test_only_known_documents_when_configured(settings: Settings, tmp_path: Path) -> None:
    known = "{ me { creditsBalance } }"
    documents = tmp_path / "persisted.json"
    documents.write_text(json.dumps({"balance": known}))
    only_known = settings.model_copy(
        update={"persisted_queries_only": True, "persisted_queries_file": documents}
    )
    async with app_client(only_known) as http:
        digest = hashlib.sha256(known.encode()).hexdigest()
        ok = await post(http, {"extensions": {"persistedQuery": {"sha256Hash": digest}}})
        assert ok.json()["data"]["me"]["creditsBalance"] == 1000
        assert code(await post(http, {"query": "{ me { id } }"})) == "PERSISTED_QUERY_REQUIRED"


async def test_an_internal_failure_is_masked_and_logged_with_its_request_id(
    http: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError('relation "secret_table" does not exist at /srv/app.py')

    monkeypatch.setattr(projects, "list_projects", broken)
    with caplog.at_level(logging.ERROR, logger="velro_graphql.api"):
        # `models` keeps it off the compiled path, so the broken service is the one that runs.
        reply = await post(http, {"query": "{ projects { totalCount } models { id } }"})
    error = reply.json()["errors"][0]
    assert error["extensions"]["code"] == "INTERNAL"
    request_id = error["extensions"]["requestId"]
    assert request_id in error["message"]
    assert "secret_table" not in reply.text and "app.py" not in reply.text
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == request_id]
    assert logged and "secret_table" in str(logged[0].exc_info[1])  # type: ignore[index]
    assert reply.headers["x-request-id"] == request_id


async def test_malformed_input_is_bad_user_input_never_internal(http: Any) -> None:
    cases = [
        {"query": "{ projects(first: 99999999999999999999) { totalCount } }"},
        {"query": "query($f: Int) { projects(first: $f) { totalCount } }", "variables": {"f": "x"}},
        {"query": '{ generation(id: "R2VuZXJhdGlvbjpub3QtYS11dWlk") { id } }'},
        {"query": '{ generations(after: "💥") { totalCount } }'},
        {"query": "{ me { nope } }"},
    ]
    for body in cases:
        assert code(await post(http, body)) == "BAD_USER_INPUT", body
    assert code(await post(http, {"query": "{ me { "})) == "GRAPHQL_PARSE_FAILED"


async def test_cors_allows_listed_origins_only(settings: Settings) -> None:
    listed = settings.model_copy(update={"cors_origins": ("https://app.velro.ai",)})
    async with app_client(listed) as http:
        for origin, allowed in (("https://app.velro.ai", True), ("https://evil.example", False)):
            reply = await http.options(
                "/graphql",
                headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
            )
            header = reply.headers.get("access-control-allow-origin")
            assert (header == origin) is allowed, origin


async def test_security_headers_and_metrics_without_secrets(http: Any) -> None:
    reply = await post(http, ME)
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["x-frame-options"] == "DENY"
    metrics = await http.get("/metrics")
    assert "velro_graphql_operations_total" in metrics.text
    ready = await http.get("/ready")
    for text in (metrics.text, ready.text):
        assert TEST_JWT_SECRET not in text
        assert "postgresql://" not in text


async def test_generation_starts_hidden_in_fragments_still_count(http: Any) -> None:
    starts = " ".join(
        f'a{n}: startGeneration(input: {{modelId: "fal-ai/aura-flow", prompt: "p{n}"}})'
        " { generation { id } }"
        for n in range(12)
    )
    hidden = {"query": f"mutation {{ ... on Mutation {{ {starts} }} }}"}
    refused = await post(http, hidden)
    assert code(refused) == "RATE_LIMITED"
    balance = (await post(http, ME)).json()["data"]["me"]["creditsBalance"]
    assert balance == 1000


async def test_operations_refused_while_parsing_still_get_their_log_line(
    http: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="velro_graphql.operations"):
        parse = await http.post("/graphql", json={"query": "{ me { "})
        over_get = await http.get(
            "/graphql",
            params={"query": 'mutation { deleteProject(input: {id: "x"}) { project { id } } }'},
            headers={"Accept": "application/json"},
        )
    assert parse.status_code == 200 and over_get.status_code == 400
    logged = [getattr(r, "error_codes", None) for r in caplog.records if r.msg == "operation"]
    assert logged == [["GRAPHQL_PARSE_FAILED"], ["BAD_USER_INPUT"]]
