"""Filters, orderings and pages both ways on generations, Project.generations and projects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.factories import make_generation, make_project
from velro_graphql.api.types.relay import to_global_id
from velro_graphql.db.read_model import GENERATION_ORDERINGS, PROJECT_ORDERINGS

BASE = datetime(2026, 1, 1, tzinfo=UTC)
GENERATIONS = """
query($first: Int, $after: String, $last: Int, $before: String, $order: GenerationOrder,
      $filter: GenerationFilter) {
  generations(first: $first, after: $after, last: $last, before: $before, orderBy: $order,
              filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes { id }
  }
}"""
PROJECTS = (
    GENERATIONS.replace("GenerationOrder", "ProjectOrder")
    .replace("GenerationFilter", "ProjectFilter")
    .replace("generations(", "projects(")
    .replace("\n  generations", "\n  projects")
)
SQL_ORDER = {"CREATED_AT": "created_at", "COMPLETED_AT": "completed_at", "COST": "cost",
             "UPDATED_AT": "updated_at", "NAME": "name"}  # fmt: skip


async def _seed(conn: Any, user_id: Any, n: int, project_id: Any = None) -> None:
    for i in range(n):
        id_ = await make_generation(
            conn, user_id, project_id=project_id, cost=[10, 50, 10, 20][i % 4],
            status=["COMPLETED", "QUEUED", "FAILED"][i % 3], prompt=f"Red fox {i} jumps",
        )  # fmt: skip
        await conn.execute(
            "UPDATE generations SET created_at = $2, completed_at = CASE WHEN completed_at"
            " IS NOT NULL THEN $3::timestamptz END WHERE id = $1",
            id_, BASE + timedelta(minutes=i % 5), BASE + timedelta(hours=1, minutes=-i),
        )  # fmt: skip


async def _page(client: Any, caller: Any, document: str, root: str, **variables: Any) -> Any:
    result = await client.execute(document, variables, caller=caller)
    assert result.errors is None, result.errors
    return result.data[root]


async def _walk(client: Any, caller: Any, document: str, root: str, order: Any, back: bool,
                insert: Any) -> list[str]:  # fmt: skip
    seen: list[str] = []
    cursor, size, key = None, ("last", "before") if back else ("first", "after"), 0
    while True:
        page = await _page(client, caller, document, root, order=order,
                           **{size[0]: 2, size[1]: cursor})  # fmt: skip
        ids = [n["id"] for n in page["nodes"]]
        seen = ids + seen if back else seen + ids
        info = page["pageInfo"]
        if cursor is None:  # the first page read has nothing on its far side
            assert not info["hasNextPage" if back else "hasPreviousPage"]
        if key == 1:
            await insert()
        key += 1
        if not info["hasPreviousPage" if back else "hasNextPage"]:
            return seen
        cursor = info["startCursor" if back else "endCursor"]


async def _expected(client: Any, table: str, type_name: str, user_id: Any, field: str,
                    desc: bool) -> list[str]:  # fmt: skip
    column, way = SQL_ORDER[field], "DESC" if desc else "ASC"
    async with client.services.pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT id FROM {table} WHERE user_id = $1 AND {column} IS NOT NULL"
            f" ORDER BY {column} {way}, id {way}", user_id,
        )  # fmt: skip
    return [to_global_id(type_name, r["id"]) for r in rows]


def _subsequence(walked: list[str], expected: list[str]) -> bool:
    it = iter(expected)
    return all(w in it for w in walked)


@pytest.mark.parametrize("back", [False, True])
@pytest.mark.parametrize("desc", [True, False])
@pytest.mark.parametrize("field", list(GENERATION_ORDERINGS))
async def test_every_generation_ordering_walks_both_ways_without_gaps_or_repeats(
    client: Any, field: str, desc: bool, back: bool
) -> None:
    alice = await client.user("alice@example.com")
    async with client.services.pool.acquire() as conn:
        await _seed(conn, alice.user_id, 9)
    before = await _expected(client, "generations", "Generation", alice.user_id, field, desc)

    async def insert() -> None:  # rows arriving mid-walk must not shift the pages
        async with client.services.pool.acquire() as conn:
            await _seed(conn, alice.user_id, 2)

    order = {"field": field, "direction": "DESC" if desc else "ASC"}
    walked = await _walk(client, alice, GENERATIONS, "generations", order, back, insert)
    after = await _expected(client, "generations", "Generation", alice.user_id, field, desc)
    assert len(set(walked)) == len(walked) and set(before) <= set(walked)
    assert _subsequence(walked, after)


@pytest.mark.parametrize("back", [False, True])
@pytest.mark.parametrize("field", list(PROJECT_ORDERINGS))
async def test_every_project_ordering_walks_both_ways(client: Any, field: str, back: bool) -> None:
    alice = await client.user("alice@example.com")
    async with client.services.pool.acquire() as conn:
        for name in ["b", "A", "c|d", "a", "b"]:
            await make_project(conn, alice.user_id, name=name)

    async def insert() -> None:
        async with client.services.pool.acquire() as conn:
            await make_project(conn, alice.user_id, name="new")

    order = {"field": field, "direction": "ASC"}
    walked = await _walk(client, alice, PROJECTS, "projects", order, back, insert)
    expected = await _expected(client, "projects", "Project", alice.user_id, field, False)
    assert len(set(walked)) == len(walked) >= 5 and _subsequence(walked, expected)


async def test_a_cursor_of_another_ordering_is_bad_user_input(client: Any) -> None:
    alice = await client.user("alice@example.com")
    async with client.services.pool.acquire() as conn:
        await _seed(conn, alice.user_id, 3)
    page = await _page(client, alice, GENERATIONS, "generations", first=1)
    cursor = page["pageInfo"]["endCursor"]
    variables = {"first": 1, "after": cursor, "order": {"field": "COST"}}
    result = await client.execute(GENERATIONS, variables, caller=alice)
    assert result.errors[0].extensions["code"] == "BAD_USER_INPUT"
    both = await client.execute(GENERATIONS, {"first": 1, "last": 1}, caller=alice)
    assert both.errors[0].extensions["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    ("filter_", "where"),
    [
        ({"status": "COMPLETED"}, "status = 'COMPLETED'"),
        ({"modelId": "fal-ai/flux-pro"}, "model_id = 'fal-ai/flux-pro'"),
        ({"mediaType": "IMAGE"}, "true"),
        ({"mediaType": "VIDEO"}, "false"),
        ({"favorite": True}, "favorite"),
        ({"favorite": False}, "NOT favorite"),
        ({"search": "FOX jumps"}, "true"),
        ({"search": "fox 3"}, "prompt LIKE '% 3 %'"),
        ({"search": "wolf"}, "false"),
        ({"createdAfter": "2026-01-01T00:02:00Z"}, "created_at >= '2026-01-01T00:02:00Z'"),
        ({"createdBefore": "2026-01-01T00:02:00Z"}, "created_at < '2026-01-01T00:02:00Z'"),
    ],
)
async def test_each_generation_filter(client: Any, filter_: dict[str, Any], where: str) -> None:
    alice, bob = await client.user("alice@example.com"), await client.user("bob@example.com")
    async with client.services.pool.acquire() as conn:
        await _seed(conn, alice.user_id, 8)
        await _seed(conn, bob.user_id, 3)
        await conn.execute("UPDATE generations SET favorite = true WHERE cost = 50")
        expected = await conn.fetchval(
            f"SELECT count(*) FROM generations WHERE user_id = $1 AND {where}", alice.user_id
        )
    page = await _page(client, alice, GENERATIONS, "generations", first=100, filter=filter_)
    assert page["totalCount"] == len(page["nodes"]) == expected


async def test_project_generations_filter_and_projects_filter_by_search_and_tag(
    client: Any,
) -> None:
    alice = await client.user("alice@example.com")
    async with client.services.pool.acquire() as conn:
        project = await make_project(conn, alice.user_id, name="Holiday Shots")
        await make_project(conn, alice.user_id, name="Work")
        await conn.execute("UPDATE projects SET tags = '{travel,2026}' WHERE id = $1", project)
        await _seed(conn, alice.user_id, 6, project_id=project)
    document = """query($filter: ProjectFilter) { projects(filter: $filter) {
        totalCount nodes { name generations(filter: {status: FAILED}, orderBy: {field: COST})
        { totalCount } } } }"""
    for filter_ in ({"search": "holiday"}, {"tag": "travel"}, {"search": "shots", "tag": "2026"}):
        found = await _page(client, alice, document, "projects", filter=filter_)
        assert found["totalCount"] == 1 and found["nodes"][0]["name"] == "Holiday Shots"
        assert found["nodes"][0]["generations"]["totalCount"] == 2
    none = await _page(client, alice, document, "projects", filter={"tag": "trav"})
    assert none["totalCount"] == 0


async def test_credit_transactions_filter_by_kind(client: Any) -> None:
    alice = await client.user("alice@example.com")
    document = """query($kind: CreditTransactionKind) {
        creditTransactions(filter: {kind: $kind}) { totalCount nodes { kind } } }"""
    grants = await _page(client, alice, document, "creditTransactions", kind="GRANT")
    charges = await _page(client, alice, document, "creditTransactions", kind="CHARGE")
    assert grants["totalCount"] == 1 and grants["nodes"] == [{"kind": "GRANT"}]
    assert charges["totalCount"] == 0
