"""The compiled read path answers exactly as per-field execution does, in one statement."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from graphql import parse

from tests.conftest import counting_statements
from tests.factories import make_generation, make_project
from velro_graphql.api.compiled_plan import Fallback, plan_for
from velro_graphql.api.context import Context
from velro_graphql.api.schema import build_schema

DOCUMENTS = [
    """
    query Dashboard($first: Int!) {
      me { id email displayName plan creditsBalance createdAt __typename
        projects(first: $first) {
          totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
          edges { cursor node { ...ProjectFields
            generations(first: $first) { totalCount edges { node {
              id status modelId prompt negativePrompt cost provider queuePosition progress
              favorite imageUrl createdAt startedAt completedAt updatedAt
              project { id name }
            } } }
          } }
        }
      }
    }
    fragment ProjectFields on Project { id name description visibility tags generationCount
      createdAt updatedAt __typename }
    """,
    """
    query Done($after: String) {
      list: generations(first: 2, after: $after, filter: {status: COMPLETED}) {
        __typename totalCount
        pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor }
        nodes { id prompt progress ... on Generation { status } }
        edges { __typename cursor }
      }
      none: projects(first: 0) { totalCount pageInfo { hasNextPage startCursor endCursor } }
    }
    """,
    '{ generations(filter: {modelId: "fal-ai/aura-flow"}) { totalCount nodes { modelId } } }',
    # Keys longer than a Postgres column name (63 bytes), next to short ones; a missing link.
    "{ me { a_response_key_that_is_longer_than_any_postgres_column_name_can_be: email"
    " projects(first: 1) { edges { the_edge_key_that_is_longer_than_any_postgres_column_name_is:"
    " node { id } } nodes { o: name } } } generations(first: 3) { nodes { project { id } } } }",
]


@pytest.fixture
async def alice(client: Any) -> Any:
    caller = await client.user("alice@example.com")
    other = await client.user("bob@example.com")
    async with client.services.pool.acquire() as conn:
        for n in range(3):
            project = await make_project(conn, caller.user_id, name=f'P{n} "quoted"\n✨')
            for status in ("COMPLETED", "QUEUED", "FAILED"):
                await make_generation(
                    conn, caller.user_id, project_id=project, status=status,
                    prompt=f"prompt {n} {status} 'ünïcode' \\ \u2028",
                )  # fmt: skip
        await make_generation(conn, caller.user_id, model_id="fal-ai/aura-flow")
        await make_project(conn, other.user_id)
        await conn.execute(
            "UPDATE generations SET progress = 0.0625, created_at = $1 WHERE status = 'QUEUED'",
            datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        )
    return caller


async def run(client: Any, caller: Any, schema: Any, document: str, variables: Any) -> Any:
    context = Context(client.services, caller=caller)
    return await schema.execute(document, variable_values=variables, context_value=context)


@pytest.mark.parametrize("document", DOCUMENTS)
async def test_both_paths_give_the_same_result(client: Any, alice: Any, document: str) -> None:
    settings = client.services.settings
    per_field = build_schema(settings.model_copy(update={"compiled_reads": False}))
    compiled = build_schema(settings)
    variables = {"first": 10, "after": None}
    plan = plan_for(compiled._schema, parse(document), document, None, variables)
    assert isinstance(plan, tuple)  # not a fallback
    slow = await run(client, alice, per_field, document, variables)
    fast = await run(client, alice, compiled, document, variables)
    assert slow.errors is None and fast.errors is None
    assert fast.data == slow.data
    cursor = (slow.data.get("list") or {}).get("pageInfo", {}).get("endCursor")
    if cursor:
        variables["after"] = cursor
        next_slow = await run(client, alice, per_field, document, variables)
        next_fast = await run(client, alice, compiled, document, variables)
        assert next_fast.data == next_slow.data


async def test_the_dashboard_is_one_statement_between_begin_and_commit(
    client: Any, alice: Any
) -> None:
    schema = build_schema(client.services.settings)
    async with counting_statements(client.services) as (services, statements):
        for _ in range(2):
            statements.clear()
            context = Context(services, caller=alice)
            result = await schema.execute(
                DOCUMENTS[0], variable_values={"first": 10}, context_value=context
            )
    assert result.errors is None
    assert len(statements) == 3, statements  # BEGIN + claims, the JSON statement, COMMIT


LITERALS = {
    "{ __typename }": {"__typename": "Query"},
    "query Q { a: __typename __typename }": {"a": "Query", "__typename": "Query"},
}


@pytest.mark.parametrize("document", LITERALS)
async def test_documents_of_literals_only_touch_no_database(
    client: Any, alice: Any, document: str
) -> None:
    schema = build_schema(client.services.settings)
    fallbacks = client.services.metrics.compiled_fallbacks
    before = sum(m.value for m in fallbacks.collect()[0].samples)
    async with counting_statements(client.services) as (services, statements):
        context = Context(services, caller=alice)
        result = await schema.execute(document, context_value=context)
    assert result.errors is None
    assert result.data == LITERALS[document]
    assert statements == []
    assert sum(m.value for m in fallbacks.collect()[0].samples) == before


async def test_unsupported_and_invalid_documents_take_the_ordinary_path(
    client: Any, alice: Any
) -> None:
    schema = build_schema(client.services.settings)
    with_outputs = await run(
        client, alice, schema, "{ generations(first: 1) { nodes { outputs { url } } } }", {}
    )
    assert with_outputs.errors is None
    too_many = await run(client, alice, schema, "{ projects(first: 101) { totalCount } }", {})
    assert too_many.errors[0].extensions["code"] == "BAD_USER_INPUT"
    bad_cursor = await run(client, alice, schema, '{ projects(after: "x") { totalCount } }', {})
    assert bad_cursor.errors[0].extensions["code"] == "BAD_USER_INPUT"


async def test_over_http_the_spliced_response_equals_the_per_field_one(
    client: Any, alice: Any
) -> None:
    from tests.conftest import app_client
    from tests.factories import make_token

    settings = client.services.settings
    body = {"query": DOCUMENTS[0], "variables": {"first": 10}}
    headers = {"Authorization": f"Bearer {make_token('alice@example.com')}"}
    replies = []
    for compiled in (True, False):
        async with app_client(settings.model_copy(update={"compiled_reads": compiled})) as http:
            replies.append((await http.post("/graphql", json=body, headers=headers)).json())
    fast, slow = replies
    assert fast["data"] == slow["data"]
    assert fast["extensions"] == slow["extensions"] | {"cost": fast["extensions"]["cost"]}
    assert fast["extensions"]["cost"]["requestedQueryCost"] == 211
    assert set(fast) == {"data", "extensions"}


@pytest.mark.parametrize(
    "document",
    [
        "{ me { id } ... on Query { me { email } } }",  # one response key, merged
        "{ generations { edges { node { id } } edges { cursor } nodes { id } nodes { prompt } } }",
    ],
)
async def test_what_per_field_execution_merges_takes_the_ordinary_path(
    client: Any, alice: Any, document: str
) -> None:
    settings = client.services.settings
    compiled = build_schema(settings)
    assert isinstance(plan_for(compiled._schema, parse(document), document, None, {}), Fallback)
    per_field = build_schema(settings.model_copy(update={"compiled_reads": False}))
    fast = await run(client, alice, compiled, document, {})
    slow = await run(client, alice, per_field, document, {})
    assert fast.errors is None and fast.data == slow.data


async def test_a_user_without_projects_gets_an_empty_connection(client: Any) -> None:
    caller = await client.user("empty@example.com")
    schema = build_schema(client.services.settings)
    result = await run(
        client, caller, schema, "{ me { projects { totalCount edges { cursor } } } }", {}
    )
    assert result.data == {"me": {"projects": {"totalCount": 0, "edges": []}}}


async def test_a_failing_compiled_read_is_answered_per_field_and_frees_its_connection(
    client: Any, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import velro_graphql.api.compiled as compiled_module

    async def broken(*args: Any) -> str:
        raise RuntimeError("statement failed")

    monkeypatch.setattr(compiled_module, "fetch_json", broken)
    schema = build_schema(client.services.settings)
    pool = client.services.pool
    for _ in range(pool.get_max_size() + 2):
        result = await run(client, alice, schema, "{ projects { totalCount } }", {})
        assert result.data == {"projects": {"totalCount": 3}}
    assert pool.get_idle_size() == pool.get_size()
