"""Estimated completion: the pure estimate, and the timings the database observes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.factories import make_generation
from velro_graphql.db.generation_updates import get
from velro_graphql.services.eta import Timing, estimate_completion, timings_of

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


async def _generation(client: Any, **changes: Any) -> Any:
    alice = await client.user("alice@example.com")
    async with client.services.pool.acquire() as conn:
        found = await get(conn, await make_generation(conn, alice.user_id))
    return dataclasses.replace(found, created_at=NOW - timedelta(seconds=10), **changes)


async def test_queued_uses_the_observed_wait_and_run_time(client: Any) -> None:
    queued = await _generation(client)
    timing = Timing(queue_seconds=30, run_seconds=60, samples=5)
    estimate = estimate_completion(queued, timing, typical_seconds=15, now=NOW)
    assert estimate == NOW + timedelta(seconds=20 + 60)
    late = estimate_completion(queued, timing, typical_seconds=15, now=NOW + timedelta(hours=1))
    assert late == NOW + timedelta(hours=1, seconds=60)  # waited longer than usual: from now
    assert estimate_completion(queued, None, typical_seconds=15, now=NOW) == NOW + timedelta(
        seconds=15
    )  # the catalog's typical duration until there are observations


async def test_in_progress_blends_run_time_and_progress(client: Any) -> None:
    running = await _generation(
        client, status="IN_PROGRESS", started_at=NOW - timedelta(seconds=40), progress=0.8
    )
    timing = Timing(queue_seconds=0, run_seconds=60, samples=5)
    # 20 s left by the average run time, 10 s by the progress so far: 15 s.
    estimate = estimate_completion(running, timing, typical_seconds=15, now=NOW)
    assert estimate == NOW + timedelta(seconds=15)


@pytest.mark.parametrize("status", ["COMPLETED", "FAILED", "CANCELLED"])
async def test_finished_has_no_estimate(client: Any, status: str) -> None:
    finished = await _generation(client, status=status)
    assert estimate_completion(finished, None, typical_seconds=15, now=NOW) is None


async def test_completions_update_the_models_moving_averages(client: Any) -> None:
    alice = await client.user("alice@example.com")
    async with client.services.pool.acquire() as conn:
        for run in (10, 20):
            id_ = await make_generation(conn, alice.user_id, status="IN_PROGRESS")
            await conn.execute(
                "UPDATE generations SET created_at = now() - make_interval(secs => $2 + 5),"
                " started_at = now() - make_interval(secs => $2) WHERE id = $1", id_, run,
            )  # fmt: skip
            await conn.execute(
                "UPDATE generations SET status = 'COMPLETED', completed_at = now()"
                " WHERE id = $1", id_,
            )  # fmt: skip
        found = (await timings_of(conn, ["fal-ai/flux-pro"]))["fal-ai/flux-pro"]
    assert found.samples == 2
    assert found.run_seconds == pytest.approx(0.8 * 10 + 0.2 * 20, abs=0.5)
    assert found.queue_seconds == pytest.approx(5, abs=0.5)


async def test_the_field_estimates_unfinished_generations_only(client: Any) -> None:
    alice = await client.user("alice@example.com")
    async with client.services.pool.acquire() as conn:
        await make_generation(conn, alice.user_id, status="QUEUED")
        await make_generation(conn, alice.user_id, status="COMPLETED")
    document = "{ generations(orderBy: {field: CREATED_AT, direction: ASC})"
    document += " { nodes { status estimatedCompletionAt } } }"
    result = await client.execute(document, caller=alice)
    queued, completed = result.data["generations"]["nodes"]
    assert datetime.fromisoformat(queued["estimatedCompletionAt"]) > datetime.now(UTC)
    assert completed == {"status": "COMPLETED", "estimatedCompletionAt": None}


async def test_queued_with_a_position_blends_the_wait_and_the_queue_speed(client: Any) -> None:
    queued = await _generation(client, queue_position=3)
    timing = Timing(queue_seconds=30, run_seconds=60, samples=5, position_seconds=4)
    # 20 s left by the usual wait, (3 + 1) x 4 = 16 s by the position: start in 18 s.
    estimate = estimate_completion(queued, timing, typical_seconds=15, now=NOW)
    assert estimate == NOW + timedelta(seconds=18 + 60)
    unknown_speed = dataclasses.replace(timing, position_seconds=None)
    estimate = estimate_completion(queued, unknown_speed, typical_seconds=15, now=NOW)
    assert estimate == NOW + timedelta(seconds=20 + 60)


async def test_a_queue_moving_up_teaches_the_model_its_queue_speed(client: Any) -> None:
    alice = await client.user("alice@example.com")
    async with client.services.pool.acquire() as conn:
        # The model's timing row is made by its first completion.
        done = await make_generation(conn, alice.user_id, status="IN_PROGRESS")
        await conn.execute(
            "UPDATE generations SET status = 'COMPLETED', started_at = now(), completed_at = now()"
            " WHERE id = $1", done,
        )  # fmt: skip
        waiting = await make_generation(conn, alice.user_id, status="QUEUED")
        await conn.execute("UPDATE generations SET queue_position = 7 WHERE id = $1", waiting)
        async with conn.transaction():  # at place 7 since 12 s ago: backdated, triggers off
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(
                "UPDATE generations SET updated_at = now() - interval '12 seconds'"
                " WHERE id = $1", waiting,
            )  # fmt: skip
        await conn.execute("UPDATE generations SET queue_position = 4 WHERE id = $1", waiting)
        found = (await timings_of(conn, ["fal-ai/flux-pro"]))["fal-ai/flux-pro"]
    assert found.position_seconds == pytest.approx(12 / 3, abs=0.5)
