"""setGenerationFavorite, moveGeneration, project tags and usage stats, across two users."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.factories import make_generation, make_project
from velro_graphql.api.types.relay import to_global_id

FAVORITE = """mutation($input: SetGenerationFavoriteInput!) { setGenerationFavorite(input: $input)
  { generation { id favorite } userErrors { field code } } }"""
MOVE = """mutation($input: MoveGenerationInput!) { moveGeneration(input: $input)
  { generation { id project { id } } userErrors { field code } } }"""
CREATE = """mutation($input: CreateProjectInput!) { createProject(input: $input)
  { project { id tags } userErrors { field code } } }"""
UPDATE = """mutation($input: UpdateProjectInput!) { updateProject(input: $input)
  { project { id tags } userErrors { field code } } }"""
STATS = """{ me { stats { generationCount byStatus { status count } creditsSpent
  creditsRefunded byModel { modelId count credits } storedBytes } } }"""


async def _run(client: Any, caller: Any, document: str, **input_: Any) -> Any:
    result = await client.execute(document, {"input": input_}, caller=caller)
    assert result.errors is None, result.errors
    return next(iter(result.data.values()))


async def test_favorite_is_set_and_cleared_and_another_users_is_not_found(client: Any) -> None:
    alice, bob = await client.user("alice@example.com"), await client.user("bob@example.com")
    async with client.services.pool.acquire() as conn:
        own = to_global_id("Generation", await make_generation(conn, alice.user_id))
        other = to_global_id("Generation", await make_generation(conn, bob.user_id))
    marked = await _run(client, alice, FAVORITE, id=own, favorite=True)
    assert marked == {"generation": {"id": own, "favorite": True}, "userErrors": []}
    cleared = await _run(client, alice, FAVORITE, id=own, favorite=False)
    assert cleared["generation"]["favorite"] is False
    refused = await _run(client, alice, FAVORITE, id=other, favorite=True)
    assert refused == {"generation": None, "userErrors": [{"field": "id", "code": "NOT_FOUND"}]}


async def _counts(client: Any, *projects: Any) -> list[int]:
    async with client.services.pool.acquire() as conn:
        return [
            await conn.fetchval("SELECT generation_count FROM projects WHERE id = $1", p)
            for p in projects
        ]


async def test_move_keeps_both_counts_and_refuses_other_users_rows(client: Any) -> None:
    alice, bob = await client.user("alice@example.com"), await client.user("bob@example.com")
    async with client.services.pool.acquire() as conn:
        first, second = (
            await make_project(conn, alice.user_id),
            await make_project(conn, alice.user_id),
        )
        bobs = await make_project(conn, bob.user_id)
        generation = await make_generation(conn, alice.user_id, project_id=first)
        bobs_generation = await make_generation(conn, bob.user_id)
    gid = to_global_id("Generation", generation)
    moved = await _run(client, alice, MOVE, id=gid, projectId=to_global_id("Project", second))
    assert moved["generation"]["project"] == {"id": to_global_id("Project", second)}
    assert await _counts(client, first, second) == [0, 1]
    into_bobs = await _run(client, alice, MOVE, id=gid, projectId=to_global_id("Project", bobs))
    assert into_bobs["userErrors"] == [{"field": "projectId", "code": "NOT_FOUND"}]
    bobs_own = to_global_id("Generation", bobs_generation)
    taking = await _run(client, alice, MOVE, id=bobs_own, projectId=None)
    assert taking["userErrors"] == [{"field": "id", "code": "NOT_FOUND"}]
    out = await _run(client, alice, MOVE, id=gid, projectId=None)
    assert out["generation"]["project"] is None
    assert await _counts(client, first, second, bobs) == [0, 0, 0]


async def test_a_move_is_announced_to_both_projects(client: Any) -> None:
    alice = await client.user("alice@example.com")
    async with client.services.pool.acquire() as conn:
        first, second = (
            await make_project(conn, alice.user_id),
            await make_project(conn, alice.user_id),
        )
        generation = await make_generation(conn, alice.user_id, project_id=first)
        heard: list[str] = []

        def hear(*args: Any) -> None:
            heard.append(args[3])

        await conn.add_listener("velro_events", hear)
        gid = to_global_id("Generation", generation)
        await _run(client, alice, MOVE, id=gid, projectId=to_global_id("Project", second))
        for _ in range(100):
            if {str(first), str(second)} <= {json.loads(h)["project_id"] for h in heard}:
                break
            await asyncio.sleep(0.02)
        await conn.remove_listener("velro_events", hear)
    assert {str(first), str(second)} <= {json.loads(h)["project_id"] for h in heard}


async def test_tags_are_written_checked_and_replaced(client: Any) -> None:
    alice = await client.user("alice@example.com")
    made = await _run(client, alice, CREATE, name="Trip", tags=[" sea ", "sun", "sea"])
    assert made["project"]["tags"] == ["sea", "sun"]
    pid = made["project"]["id"]
    kept = await _run(client, alice, UPDATE, id=pid, name="Trip 2")
    assert kept["project"]["tags"] == ["sea", "sun"]
    replaced = await _run(client, alice, UPDATE, id=pid, tags=["x" * 30])
    assert replaced["project"]["tags"] == ["x" * 30]
    for bad in (["x" * 31], [""], [f"t{n}" for n in range(21)]):
        refused = await _run(client, alice, UPDATE, id=pid, tags=bad)
        assert refused["userErrors"] == [{"field": "tags", "code": "BAD_USER_INPUT"}]


async def test_stats_agree_with_the_ledger_and_the_lists(client: Any) -> None:
    alice = await client.user("alice@example.com")
    start = """mutation($input: StartGenerationInput!) { startGeneration(input: $input)
      { generation { id } userErrors { code } } }"""
    ids = []
    for model in ("fal-ai/flux-pro", "fal-ai/flux-pro", "fal-ai/aura-flow"):
        started = await _run(client, alice, start, modelId=model, prompt="a cat")
        ids.append(started["generation"]["id"])
    cancel = """mutation($input: GenerationIdInput!) {
      cancelGeneration(input: $input) { userErrors { code } } }"""
    assert (await _run(client, alice, cancel, id=ids[0]))["userErrors"] == []
    stats = (await client.execute(STATS, caller=alice)).data["me"]["stats"]
    async with client.services.pool.acquire() as conn:
        ledger = await conn.fetch(
            "SELECT kind, sum(amount) AS s FROM credit_transactions WHERE user_id = $1"
            " GROUP BY kind", alice.user_id,
        )  # fmt: skip
    sums = {r["kind"]: r["s"] for r in ledger}
    assert stats["creditsSpent"] == -sums["charge"] - sums["refund"]
    assert stats["creditsRefunded"] == sums["refund"]
    assert stats["generationCount"] == 3
    assert {s["status"]: s["count"] for s in stats["byStatus"]} == {"CANCELLED": 1, "QUEUED": 2}
    assert sum(m["credits"] for m in stats["byModel"]) == stats["creditsSpent"]
    assert [(m["modelId"], m["count"]) for m in stats["byModel"]] == [
        ("fal-ai/aura-flow", 1),
        ("fal-ai/flux-pro", 2),
    ]
    assert stats["storedBytes"] == 0


async def test_project_stats_count_only_its_generations_and_their_ledger_rows(
    client: Any,
) -> None:
    alice = await client.user("alice@example.com")
    async with client.services.pool.acquire() as conn:
        project = to_global_id("Project", await make_project(conn, alice.user_id))
    start = """mutation($input: StartGenerationInput!) { startGeneration(input: $input)
      { generation { cost } userErrors { code } } }"""
    filed = await _run(
        client, alice, start, modelId="fal-ai/flux-pro", prompt="a", projectId=project
    )
    await _run(client, alice, start, modelId="fal-ai/aura-flow", prompt="b")
    document = """query($id: ID!) { project(id: $id) { stats { generationCount creditsSpent
      byModel { modelId count credits } } } }"""
    result = await client.execute(document, {"id": project}, caller=alice)
    cost = filed["generation"]["cost"]
    assert result.data["project"]["stats"] == {
        "generationCount": 1,
        "creditsSpent": cost,
        "byModel": [{"modelId": "fal-ai/flux-pro", "count": 1, "credits": cost}],
    }
