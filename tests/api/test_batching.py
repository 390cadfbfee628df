"""SQL round trips of the dashboard query do not grow with the number of items."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import counting_statements
from tests.factories import make_generation, make_project
from velro_graphql.api.context import Context
from velro_graphql.api.schema import build_schema

statements_of_last_run: list[str] = []

DASHBOARD = """
query Dashboard($first: Int!) {
  me {
    id email creditsBalance
    projects(first: $first) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node {
        id name generationCount createdAt
        generations(first: $first) {
          totalCount
          edges { node { id status modelId prompt cost progress createdAt project { id } } }
        }
      } }
    }
  }
}"""


async def _count_statements(client: Any, schema: Any, caller: Any, first: int) -> tuple[int, Any]:
    async with counting_statements(client.services) as (services, statements):
        for _ in range(2):  # the first run also loads asyncpg's type introspection: skip it
            statements.clear()
            context = Context(services, caller=caller)
            result = await schema.execute(
                DASHBOARD, variable_values={"first": first}, context_value=context
            )
    statements_of_last_run[:] = statements
    assert result.errors is None, result.errors
    return len(statements), result.data


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "per-field"])
async def test_statement_count_is_the_same_at_2x2_and_10x10(client: Any, compiled: bool) -> None:
    settings = client.services.settings.model_copy(update={"compiled_reads": compiled})
    schema = build_schema(settings)
    small = await client.user("small@example.com")
    large = await client.user("large@example.com")
    async with client.services.pool.acquire() as conn:
        for caller, size in ((small, 2), (large, 10)):
            for _ in range(size):
                project = await make_project(conn, caller.user_id)
                for _ in range(size):
                    await make_generation(conn, caller.user_id, project_id=project)

    small_count, small_data = await _count_statements(client, schema, small, 2)
    large_count, large_data = await _count_statements(client, schema, large, 10)

    assert len(small_data["me"]["projects"]["edges"]) == 2
    large_projects = large_data["me"]["projects"]["edges"]
    assert len(large_projects) == 10
    assert all(len(p["node"]["generations"]["edges"]) == 10 for p in large_projects)
    assert all(p["node"]["generationCount"] == 10 for p in large_projects)
    assert small_count == large_count
    assert large_count <= 6, statements_of_last_run
