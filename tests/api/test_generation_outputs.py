"""Outputs through the schema: signed URLs on read, files removed with their generation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import instant
from velro_graphql.config import Settings
from velro_graphql.services.generations import run

OUTPUTS = """
query($id: ID!) {
  generation(id: $id) {
    status
    outputs { url(expiresIn: 120) contentType width height byteSize stored sha256
              thumbnailUrl(size: 512) }
  }
}"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return instant(settings)


async def run_jobs(client: Any) -> None:
    rt = client.services.runtime
    for _ in range(5):
        for job in await run.claim(rt, owner="test", limit=10):
            await run.advance(rt, job, owner="test")


async def test_outputs_are_signed_on_read_and_deleted_with_the_generation(client: Any) -> None:
    alice = await client.user("alice@example.com")
    started = await client.execute(
        'mutation { startGeneration(input: {modelId: "fal-ai/flux-pro", prompt: "a fox"}) '
        "{ generation { id } } }",
        caller=alice,
    )
    generation_id = started.data["startGeneration"]["generation"]["id"]
    await run_jobs(client)

    result = await client.execute(OUTPUTS, {"id": generation_id}, caller=alice)
    generation = result.data["generation"]
    assert generation["status"] == "COMPLETED"
    [output] = generation["outputs"]
    assert output["contentType"] == "image/png"
    assert output["stored"] is True
    assert "signature=" in output["url"] and "signature=" in output["thumbnailUrl"]
    files = client.services.settings.velro_home / "files"
    stored = sorted(p.name for p in files.rglob("*") if p.is_file())
    assert stored == ["0.png", "0_256.webp", "0_512.webp"]

    too_long = await client.execute(
        "query($id: ID!) { generation(id: $id) { outputs { url(expiresIn: 99999999) } } }",
        {"id": generation_id},
        caller=alice,
    )
    assert too_long.errors[0].extensions["code"] == "BAD_USER_INPUT"

    deleted = await client.execute(
        "mutation($id: ID!) { deleteGeneration(input: {id: $id}) { userErrors { code } } }",
        {"id": generation_id},
        caller=alice,
    )
    assert deleted.data["deleteGeneration"]["userErrors"] == []
    assert [p for p in files.rglob("*") if p.is_file()] == []


async def test_the_owner_sees_flags_and_the_support_record(client: Any) -> None:
    alice = await client.user("alice@example.com")
    started = await client.execute(
        'mutation { startGeneration(input: {modelId: "fal-ai/flux-pro", prompt: "a fox"}) '
        "{ generation { id } } }",
        caller=alice,
    )
    generation_id = started.data["startGeneration"]["generation"]["id"]
    await run_jobs(client)

    result = await client.execute(
        "query($id: ID!) { generation(id: $id) { providerRequestId providerTimings"
        " logs { message } outputs { nsfw } } }",
        {"id": generation_id},
        caller=alice,
    )
    bob = await client.user("bob@example.com")
    other = await client.execute(
        "query($id: ID!) { generation(id: $id) { providerRequestId } }",
        {"id": generation_id},
        caller=bob,
    )

    generation = result.data["generation"]
    assert generation["providerRequestId"].startswith("sim-")
    assert generation["providerTimings"] is None  # the simulator reports none; fal does
    assert generation["logs"][-1]["message"] == "Done (simulated)"
    assert generation["outputs"] == [{"nsfw": False}]
    assert other.errors[0].extensions["code"] == "NOT_FOUND"
