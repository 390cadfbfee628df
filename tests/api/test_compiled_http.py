"""Compiled reads over HTTP (api/compiled_http.py) answer exactly as strawberry's pipeline:
the same status, body, headers and log line for what it answers and for what it leaves."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from tests.conftest import app_client
from tests.factories import make_generation, make_project, make_token
from velro_graphql.api.persisted import sha256_hex
from velro_graphql.config import Settings

DASHBOARD = """query Dashboard($first: Int!) {
  me { email creditsBalance projects(first: $first) { totalCount
    edges { node { id name generations(first: $first) { edges { node { id status } } } } } } }
}"""
REQUESTS: dict[str, Any] = {
    "dashboard": {"query": DASHBOARD, "variables": {"first": 3}},
    "named": {"query": DASHBOARD + " query Other { me { id } }", "operationName": "Other"},
    "extensions": {"query": "{ me { id } }", "extensions": {}},
    "typename": {"query": "{ __typename }", "variables": None},
    "over_cost": {"query": DASHBOARD, "variables": {"first": 100}},
    "bad_variables": {"query": DASHBOARD, "variables": {"first": "ten"}},
    "invalid": {"query": "{ me { nope } }"},
    "mutation": {"query": 'mutation { createProject(input: {name: "x"}) { userErrors { code } } }'},
    "persisted": {
        "query": "{ me { id } }",
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex("{ me { id } }")}},
    },
    "batch": [{"query": "{ me { id } }"}],
    "not_an_object": "{ me { id } }",
}


async def _exchange(
    settings: Settings, body: Any, caplog: pytest.LogCaptureFixture, *, compiled: bool
) -> tuple[int, Any, str | None, list[Any]]:
    settings = settings.model_copy(update={"compiled_reads": compiled})
    headers = {
        "Authorization": f"Bearer {make_token('alice@example.com')}",
        "Content-Type": "application/json",
    }
    async with app_client(settings) as http:
        await http.post("/graphql", json={"query": "{ me { id } }"}, headers=headers)  # signs up
        async with http.app.state.services.pool.acquire() as conn:
            user = await conn.fetchval("SELECT id FROM profiles")
            if not await conn.fetchval("SELECT count(*) FROM projects"):
                project = await make_project(conn, user, name="P")
                await make_generation(conn, user, project_id=project)
        caplog.clear()
        reply = await http.post("/graphql", content=json.dumps(body), headers=headers)
        reply = await http.post("/graphql", content=json.dumps(body), headers=headers)
    logged = [
        (r.operation, r.error_codes)  # type: ignore[attr-defined]
        for r in caplog.records
        if r.getMessage() == "operation"
    ]
    return reply.status_code, reply.json(), reply.headers.get("content-type"), logged


@pytest.mark.parametrize("name", REQUESTS)
async def test_both_paths_answer_and_log_alike(
    settings: Settings, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    with caplog.at_level(logging.INFO, logger="velro_graphql.operations"):
        slow = await _exchange(settings, REQUESTS[name], caplog, compiled=False)
        fast = await _exchange(settings, REQUESTS[name], caplog, compiled=True)
    assert fast == slow


async def test_a_null_root_is_answered_per_field_without_spending_twice(
    settings: Settings,
) -> None:
    headers = {"Authorization": f"Bearer {make_token('alice@example.com')}"}
    replies = []
    for compiled in (False, True):
        async with app_client(settings.model_copy(update={"compiled_reads": compiled})) as http:
            await http.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
            async with http.app.state.services.pool.acquire() as conn:
                await conn.execute("DELETE FROM credit_transactions")
                await conn.execute("DELETE FROM profiles")  # `me` is now null
            reply = await http.post("/graphql", json={"query": "{ me { id } }"}, headers=headers)
            replies.append((reply.status_code, reply.json()))
            fallbacks = http.app.state.services.metrics.compiled_fallbacks
            samples = fallbacks.collect()[0].samples
            counted = {s.labels["reason"]: s.value for s in samples if s.name.endswith("_total")}
    slow, fast = replies
    assert fast == slow
    assert fast[1]["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 58
    assert counted.get("null_root") == 1  # tried once, by the HTTP lane; not again per field
