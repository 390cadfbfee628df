"""startGeneration, cancelGeneration, retryGeneration, deleteGeneration through the schema."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import make_project
from velro_graphql.api.types.relay import to_global_id

START = """
mutation($input: StartGenerationInput!) {
  startGeneration(input: $input) {
    generation { id status cost provider modelId parameters project { id } }
    creditsBalance
    userErrors { field message code }
  }
}"""
ULTRA = "fal-ai/flux-pro/v1.1-ultra"


async def start(client: Any, caller: Any, **input_: Any) -> Any:
    input_.setdefault("modelId", ULTRA)
    input_.setdefault("prompt", "a lighthouse at dusk")
    result = await client.execute(START, {"input": input_}, caller=caller)
    assert result.errors is None, result.errors
    return result.data["startGeneration"]


async def ledger(client: Any, caller: Any) -> tuple[int, int, int]:
    async with client.services.pool.acquire() as conn:
        balance = await conn.fetchval(
            "SELECT credits_balance FROM profiles WHERE id = $1", caller.user_id
        )
        total = await conn.fetchval(
            "SELECT sum(amount) FROM credit_transactions WHERE user_id = $1", caller.user_id
        )
        count = await conn.fetchval(
            "SELECT count(*) FROM generations WHERE user_id = $1", caller.user_id
        )
    return balance, total, count


async def test_start_charges_and_queues(client: Any) -> None:
    alice = await client.user("alice@example.com")
    payload = await start(client, alice, parameters={"num_images": 2})
    assert payload["userErrors"] == []
    generation = payload["generation"]
    assert generation["status"] == "QUEUED"
    assert generation["cost"] == 24  # 2 images x 12
    assert generation["provider"] == "simulator"
    assert generation["parameters"]["num_images"] == 2
    assert generation["parameters"]["aspect_ratio"] == "16:9"  # the default, filled in
    assert payload["creditsBalance"] == 976
    assert await ledger(client, alice) == (976, 976, 1)
    async with client.services.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM generation_jobs") == 1


@pytest.mark.parametrize(
    ("input_", "field", "code"),
    [
        ({"parameters": {"num_imagez": 1}}, "parameters.num_imagez", "BAD_USER_INPUT"),
        ({"parameters": {"num_images": "two"}}, "parameters.num_images", "BAD_USER_INPUT"),
        ({"parameters": {"num_images": 5}}, "parameters.num_images", "BAD_USER_INPUT"),
        ({"parameters": {"num_images": True}}, "parameters.num_images", "BAD_USER_INPUT"),
        ({"parameters": {"aspect_ratio": "7:3"}}, "parameters.aspect_ratio", "BAD_USER_INPUT"),
        ({"parameters": [1, 2]}, "parameters", "BAD_USER_INPUT"),
        ({"prompt": ""}, "prompt", "BAD_USER_INPUT"),
        ({"prompt": "   "}, "prompt", "BAD_USER_INPUT"),
        ({"prompt": "x" * 2001}, "prompt", "BAD_USER_INPUT"),
        ({"negativePrompt": "blurry"}, "negativePrompt", "BAD_USER_INPUT"),
        ({"modelId": "fal-ai/nope"}, "modelId", "BAD_USER_INPUT"),
        ({"modelId": "fal-ai/luma-dream-machine"}, "modelId", "MODEL_UNAVAILABLE"),
        ({"imageUrl": "http://example.com/a.png"}, "imageUrl", "BAD_USER_INPUT"),
        ({"modelId": "fal-ai/flux-pro/kontext/max"}, "imageUploadId", "BAD_USER_INPUT"),
        ({"idempotencyKey": ""}, "idempotencyKey", "BAD_USER_INPUT"),
        ({"projectId": "garbage"}, "projectId", "BAD_USER_INPUT"),
    ],
)
async def test_bad_input_names_the_field_and_changes_nothing(
    client: Any, input_: dict[str, Any], field: str, code: str
) -> None:
    alice = await client.user("alice@example.com")
    payload = await start(client, alice, **input_)
    assert payload["generation"] is None
    assert payload["userErrors"][0]["field"] == field
    assert payload["userErrors"][0]["code"] == code
    assert await ledger(client, alice) == (1000, 1000, 0)


async def test_another_users_project_is_not_found(client: Any) -> None:
    alice = await client.user("alice@example.com")
    bob = await client.user("bob@example.com")
    async with client.services.pool.acquire() as conn:
        project = await make_project(conn, bob.user_id)
    payload = await start(client, alice, projectId=to_global_id("Project", project))
    assert payload["userErrors"][0] == {
        "field": "projectId",
        "message": "No such project.",
        "code": "NOT_FOUND",
    }
    assert await ledger(client, alice) == (1000, 1000, 0)


async def test_negative_prompt_where_accepted(client: Any) -> None:
    alice = await client.user("alice@example.com")
    payload = await start(client, alice, modelId="fal-ai/veo3", negativePrompt="blurry")
    assert payload["userErrors"] == []


async def test_insufficient_credits_says_required_and_available(client: Any) -> None:
    alice = await client.user("alice@example.com")
    assert (await start(client, alice, modelId="fal-ai/veo3"))["userErrors"] == []
    payload = await start(client, alice, modelId="fal-ai/veo3")
    error = payload["userErrors"][0]
    assert error["code"] == "INSUFFICIENT_CREDITS"
    assert "640" in error["message"] and "360" in error["message"]  # 8 seconds x 80
    assert await ledger(client, alice) == (360, 360, 1)


async def test_same_idempotency_key_returns_the_first_and_charges_once(client: Any) -> None:
    alice = await client.user("alice@example.com")
    first = await start(client, alice, idempotencyKey="click-1")
    again = await start(client, alice, idempotencyKey="click-1")
    assert again["generation"]["id"] == first["generation"]["id"]
    assert again["creditsBalance"] == 988
    assert await ledger(client, alice) == (988, 988, 1)
    bob = await client.user("bob@example.com")
    other = await start(client, bob, idempotencyKey="click-1")
    assert other["generation"]["id"] != first["generation"]["id"]


@pytest.mark.parametrize(
    "changed",
    [
        {"prompt": "something else"},
        {"modelId": "fal-ai/aura-flow"},
        {"parameters": {"num_images": 2}},
    ],
)
async def test_an_idempotency_key_reused_with_another_input_is_refused(
    client: Any, changed: dict[str, Any]
) -> None:
    alice = await client.user("alice@example.com")
    await start(client, alice, idempotencyKey="click-1")
    reused = await start(client, alice, idempotencyKey="click-1", **changed)
    assert reused["generation"] is None
    assert reused["userErrors"][0]["field"] == "idempotencyKey"
    assert reused["userErrors"][0]["code"] == "BAD_USER_INPUT"
    assert await ledger(client, alice) == (988, 988, 1)


async def test_a_key_from_before_input_hashes_still_returns_its_generation(client: Any) -> None:
    alice = await client.user("alice@example.com")
    first = await start(client, alice, idempotencyKey="old-click")
    async with client.services.pool.acquire() as conn:
        await conn.execute("UPDATE generations SET input_hash = NULL")
    again = await start(client, alice, idempotencyKey="old-click", prompt="something else")
    assert again["generation"]["id"] == first["generation"]["id"]


CANCEL = """
mutation($id: ID!) {
  cancelGeneration(input: {id: $id}) {
    generation { id status } creditsBalance userErrors { field code message }
  }
}"""
RETRY = """
mutation($id: ID!) {
  retryGeneration(input: {id: $id}) {
    generation { id status parent { id } } creditsBalance userErrors { field code }
  }
}"""
DELETE = """
mutation($id: ID!) {
  deleteGeneration(input: {id: $id}) {
    deletedGenerationId creditsBalance userErrors { field code }
  }
}"""


async def test_cancel_refunds_once_and_a_finished_one_is_refused(client: Any) -> None:
    alice = await client.user("alice@example.com")
    generation_id = (await start(client, alice))["generation"]["id"]
    cancelled = await client.execute(CANCEL, {"id": generation_id}, caller=alice)
    assert cancelled.data["cancelGeneration"]["generation"]["status"] == "CANCELLED"
    assert cancelled.data["cancelGeneration"]["creditsBalance"] == 1000
    again = await client.execute(CANCEL, {"id": generation_id}, caller=alice)
    assert again.data["cancelGeneration"]["creditsBalance"] is None
    error = again.data["cancelGeneration"]["userErrors"][0]
    assert (error["field"], error["code"]) == ("id", "BAD_USER_INPUT")
    assert await ledger(client, alice) == (1000, 1000, 1)
    async with client.services.pool.acquire() as conn:
        kinds = await conn.fetch("SELECT kind FROM credit_transactions ORDER BY id")
        jobs = await conn.fetchval("SELECT count(*) FROM generation_jobs")
    assert [r["kind"] for r in kinds] == ["grant", "charge", "refund"]
    assert jobs == 0


async def test_retry_makes_a_new_charged_child(client: Any) -> None:
    alice = await client.user("alice@example.com")
    generation_id = (await start(client, alice))["generation"]["id"]
    unfinished = await client.execute(RETRY, {"id": generation_id}, caller=alice)
    assert unfinished.data["retryGeneration"]["userErrors"][0]["code"] == "BAD_USER_INPUT"
    await client.execute(CANCEL, {"id": generation_id}, caller=alice)
    retried = (await client.execute(RETRY, {"id": generation_id}, caller=alice)).data
    child = retried["retryGeneration"]["generation"]
    assert child["parent"] == {"id": generation_id}
    assert child["status"] == "QUEUED"
    assert retried["retryGeneration"]["creditsBalance"] == 988


async def test_other_users_generation_is_not_found_for_every_mutation(client: Any) -> None:
    alice = await client.user("alice@example.com")
    bob = await client.user("bob@example.com")
    generation_id = (await start(client, alice))["generation"]["id"]
    for mutation, name in ((CANCEL, "cancelGeneration"), (RETRY, "retryGeneration"),
                           (DELETE, "deleteGeneration")):  # fmt: skip
        result = await client.execute(mutation, {"id": generation_id}, caller=bob)
        assert result.data[name]["userErrors"][0]["code"] == "NOT_FOUND", name
    read = await client.execute(
        "query($id: ID!) { generation(id: $id) { id } }", {"id": generation_id}, caller=bob
    )
    assert read.errors[0].extensions["code"] == "NOT_FOUND"
    assert await ledger(client, alice) == (988, 988, 1)


async def test_delete_cancels_refunds_and_keeps_the_ledger(client: Any) -> None:
    alice = await client.user("alice@example.com")
    generation_id = (await start(client, alice))["generation"]["id"]
    deleted = await client.execute(DELETE, {"id": generation_id}, caller=alice)
    assert deleted.data["deleteGeneration"] == {
        "deletedGenerationId": generation_id,
        "creditsBalance": 1000,
        "userErrors": [],
    }
    balance, total, count = await ledger(client, alice)
    assert (balance, total, count) == (1000, 1000, 0)
    listing = await client.execute(
        "{ creditTransactions(first: 10) { edges { node { kind generation { id } } } } }",
        caller=alice,
    )
    kinds = [e["node"]["kind"] for e in listing.data["creditTransactions"]["edges"]]
    assert kinds == ["REFUND", "CHARGE", "GRANT"]
