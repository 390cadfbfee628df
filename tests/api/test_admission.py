"""The admission policy every transport applies: cost with variable defaults, introspection,
text Postgres cannot store, and the budget broken documents spend."""

from __future__ import annotations

import json
from typing import Any

import pytest
from graphql import get_introspection_query, get_operation_ast, parse

from tests.api.test_abuse import ME, bearer, code, post
from tests.conftest import app_client
from velro_graphql.api.admission import admit_operation
from velro_graphql.config import Settings
from velro_graphql.errors import BadUserInput

NESTED = "projects(first: $n) { nodes { generations(first: $n) { nodes { id } } } }"


def error(reply: Any) -> dict[str, Any]:
    first: dict[str, Any] = reply.json()["errors"][0]
    return first


async def test_a_variable_default_costs_what_its_literal_costs(http: Any) -> None:
    refused = await post(http, {"query": f"query($n: Int = 100) {{ {NESTED} }}"})
    assert code(refused) == "BAD_USER_INPUT"
    assert error(refused)["extensions"]["limit"] == "cost"
    assert "10100" in error(refused)["message"]


async def test_aliased_defaults_and_integral_floats_are_costed_too(http: Any) -> None:
    aliased = " ".join(f"a{n}: {NESTED}" for n in range(11))
    defaulted = await post(http, {"query": f"query($n: Int = 100) {{ {aliased} }}"})
    assert "111100" in error(defaulted)["message"]
    floated = {"query": f"query($n: Int) {{ {NESTED} }}", "variables": {"n": 100.0}}
    assert error(await post(http, floated))["extensions"]["limit"] == "cost"


def test_subscriptions_are_admitted_by_the_same_function() -> None:
    document = parse(
        "subscription($n: Int = 100) { generationEvents { project {"
        " generations(first: $n) { nodes { project { generations(first: $n) { nodes { id } } }"
        " } } } } }"
    )
    operation = get_operation_ast(document)
    assert operation is not None
    with pytest.raises(BadUserInput) as refused:
        admit_operation(document, operation, None, max_cost=5000)
    assert refused.value.field == "cost"
    assert admit_operation(document, operation, {"n": 2}, max_cost=5000) == 1 + 1 + 2 + 2 + 4


@pytest.fixture
async def introspective(settings: Settings) -> Any:
    async with app_client(settings.model_copy(update={"introspection": True})) as http:
        yield http


async def test_one_full_introspection_runs(introspective: Any) -> None:
    reply = await post(introspective, {"query": get_introspection_query()})
    assert reply.json()["data"]["__schema"]["types"]


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("{ " + " ".join(f"a{n}: __schema {{ types {{ name }} }}" for n in range(30)) + " }", 30),
        ("{ __schema { types { fields { type { fields { args { name } } } } } } }", 4),
        (
            'query { __type(name: "Query") { ...F } } fragment F on __Type'
            " { fields { type { fields { type { fields { type { fields { name } } } } } } } }",
            4,
        ),
    ],
)
async def test_introspection_is_bounded(introspective: Any, query: str, why: int) -> None:
    reply = await post(introspective, {"query": query})
    assert code(reply) == "BAD_USER_INPUT", reply.json()
    # (graphql-core's own MaxIntrospectionDepthRule refuses some nestings first)
    assert "introspection" in error(reply)["message"].lower(), why
    assert "data" not in reply.json() or reply.json()["data"] is None


START = (
    "mutation($input: StartGenerationInput!) { startGeneration(input: $input)"
    " { generation { id } userErrors { field code } } }"
)
CREATE = (
    "mutation($input: CreateProjectInput!) { createProject(input: $input)"
    " { project { id } userErrors { field code } } }"
)


@pytest.mark.parametrize(
    ("query", "variables", "field"),
    [
        (START, {"input": {"modelId": "fal-ai/aura-flow", "prompt": "a \ud800 b"}}, "prompt"),
        (
            START,
            {"input": {"modelId": "fal-ai/aura-flow", "prompt": "p", "idempotencyKey": "\udfff"}},
            "idempotencyKey",
        ),
        (CREATE, {"input": {"name": "x\ud83d"}}, "name"),
        (
            "query($m: String) { generations(filter: {modelId: $m}) { totalCount } }",
            {"m": "\udc00"},
            "m",
        ),
        (CREATE, {"input": {"name": "nul\x00"}}, "name"),
    ],
)
async def test_unstorable_text_is_refused_naming_its_field(
    http: Any, query: str, variables: dict[str, Any], field: str
) -> None:
    body = json.dumps({"query": query, "variables": variables})  # "\\ud800": JSON's escapes
    headers = {**bearer(), "Content-Type": "application/json"}
    reply = await http.post("/graphql", content=body, headers=headers)
    assert reply.status_code == 200
    assert code(reply) == "BAD_USER_INPUT"
    assert error(reply)["extensions"]["field"] == field
    async with http.app.state.services.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM generations") == 0


async def test_broken_documents_spend_the_budget(http: Any, settings: Settings) -> None:
    broken = [{"query": "{ me { "}, {"query": "{ me { nope } }"}, {"query": "{ nope }"}]
    for n in range(settings.rate_limit_operations_per_minute):
        assert code(await post(http, broken[n % 3])) != "RATE_LIMITED"
    refused = await post(http, ME)
    assert refused.status_code == 429
    assert code(refused) == "RATE_LIMITED"
    signed_out = await http.post("/graphql", json={"query": "{ nope"}, headers={})
    assert code(signed_out) == "GRAPHQL_PARSE_FAILED"  # the address has a budget of its own


@pytest.mark.parametrize(
    "query",
    [
        "{ projects(first: " + "9" * 5000 + ") { totalCount } }",
        "query($n: Int = " + "9" * 5000 + ") { projects(first: $n) { totalCount } }",
    ],
)
async def test_integer_literals_past_the_digit_limit_are_bad_input(http: Any, query: str) -> None:
    reply = await post(http, {"query": query})
    assert code(reply) == "BAD_USER_INPUT"
    assert "100 digits" in error(reply)["message"]
