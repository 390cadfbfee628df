"""Generation jobs on the fake fal server through the real fal-client: the lifecycle users
watch, transient failures that must not cost twice, and failures that must refund once."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from tests.fakes.fal_payloads import FLAGGED, SEED, png
from tests.fakes.fal_server import FakeFal
from tests.worker.conftest import open_app
from velro_graphql.config import Settings
from velro_graphql.worker.runner import running_worker


def _seen(generation: Any) -> tuple[str, int | None, list[str], float | None]:
    return (
        generation.status,
        generation.queue_position,
        [line["message"] for line in generation.logs],
        generation.progress,
    )


async def test_lifecycle_queued_in_progress_completed_with_outputs(fake: FakeFal, fal: Any) -> None:
    fake.script(queued=2, in_progress=2)
    caller = await fal.user()
    generation = await fal.start(caller, parameters={"num_images": 2, "seed": 7})
    assert generation.provider == "fal" and generation.status == "QUEUED"

    seen = []
    while (current := await fal.generation(generation.id)).status != "COMPLETED":
        assert await fal.step() == 1
        seen.append(_seen(await fal.generation(generation.id)))
        assert len(seen) < 10

    assert seen == [
        ("QUEUED", None, [], None),  # submitted
        ("QUEUED", 1, [], None),
        ("QUEUED", 0, [], None),
        ("IN_PROGRESS", None, ["Step 1/2"], 0.5),
        ("IN_PROGRESS", None, ["Step 1/2", "Step 2/2"], 1.0),
        ("COMPLETED", None, ["Step 1/2", "Step 2/2"], 1.0),
    ]
    assert fake.submit_count() == 1
    (job,) = fake.jobs.values()
    assert current.provider_request_id == job.request_id
    assert job.arguments["prompt"] == "a red fox"
    assert job.arguments["num_images"] == 2 and job.arguments["seed"] == 7
    assert current.started_at is not None and current.completed_at is not None

    outputs = await fal.outputs(caller, generation.id)
    assert len(outputs) == 2
    for output in outputs:
        assert output.stored and output.content_type == "image/png"
        assert (output.width, output.height) == (64, 48)
        assert output.sha256 == hashlib.sha256(png()).hexdigest()
        assert output.seed == str(SEED) and int(output.seed) > 2**63
        assert len(output.thumbnails) == 2
    assert await fal.job(generation.id) is None
    assert await fal.kinds_for(caller, generation.id) == ["charge"]
    await fal.assert_books_balance(caller)


async def test_bursts_of_429_500_503_on_submit_still_submit_once(fake: FakeFal, fal: Any) -> None:
    caller = await fal.user()
    generation = await fal.start(caller)
    fake.fail_next("submit", [429, 500, 503])

    await fal.step()  # fal-client retries the 429 itself; the 500 reaches us
    job = await fal.job(generation.id)
    assert job["attempts"] == 1 and "500" in job["last_error"]
    assert job["due_in"].total_seconds() > 0.2  # backed off, not hammering
    assert (await fal.generation(generation.id)).status == "QUEUED"

    done = await fal.drive(generation.id)

    assert done.status == "COMPLETED"
    assert fake.hits["submit"] == 4 and fake.submit_count() == 1
    assert await fal.kinds_for(caller, generation.id) == ["charge"]
    assert await fal.balance(caller) == 1000 - generation.cost


async def test_bursts_of_errors_on_status_polls_still_complete(fake: FakeFal, fal: Any) -> None:
    fake.script(queued=1, in_progress=1)
    caller = await fal.user()
    generation = await fal.start(caller)
    await fal.step()  # submitted
    fake.fail_next("status", [429, 500, 503, 502, 504], ingress=False)
    fake.fail_next("status", [502, 503], ingress=True)  # nginx pages: fal-client retries

    done = await fal.drive(generation.id)

    assert done.status == "COMPLETED"
    assert fake.submit_count() == 1
    assert len(await fal.outputs(caller, generation.id)) == 1
    assert await fal.kinds_for(caller, generation.id) == ["charge"]
    await fal.assert_books_balance(caller)


async def test_a_validation_error_on_submit_fails_at_once_with_fals_message(
    fake: FakeFal, fal: Any
) -> None:
    caller = await fal.user()
    generation = await fal.start(caller)
    fake.fail_next("submit", [422])

    await fal.step()

    failed = await fal.generation(generation.id)
    assert failed.status == "FAILED" and failed.error_code == "PROVIDER_REJECTED"
    assert FLAGGED in (failed.error_message or "")
    assert fake.hits["submit"] == 1 and fake.submit_count() == 0
    assert await fal.job(generation.id) is None
    assert await fal.kinds_for(caller, generation.id) == ["charge", "refund"]
    assert await fal.balance(caller) == 1000
    await fal.step(wake=True)  # nothing left to do: no second refund, no retry
    assert await fal.kinds_for(caller, generation.id) == ["charge", "refund"]


async def test_a_request_ending_in_an_error_payload_fails_and_refunds(
    fake: FakeFal, fal: Any
) -> None:
    fake.script(queued=0, in_progress=1, outcome="error")
    caller = await fal.user()
    generation = await fal.start(caller)

    failed = await fal.drive(generation.id)

    assert failed.status == "FAILED" and failed.error_code == "PROVIDER_ERROR"
    assert failed.error_message
    assert await fal.outputs(caller, generation.id) == []
    assert await fal.kinds_for(caller, generation.id) == ["charge", "refund"]
    assert await fal.balance(caller) == 1000
    await fal.assert_books_balance(caller)


async def test_a_request_that_never_completes_times_out_and_is_refunded(
    fake: FakeFal, open_harness: Any
) -> None:
    fake.script(queued=0, outcome="never")
    fal = await open_harness(generation_deadline_seconds=1, provider_poll_seconds=0.05)
    caller = await fal.user()
    generation = await fal.start(caller)

    async with running_worker(fal.rt):
        running = await fal.wait_for(generation.id, until=("IN_PROGRESS",))
        failed = await fal.wait_for(generation.id, timeout=5)

    assert running.logs  # it did report progress before going silent
    assert failed.status == "FAILED" and failed.error_code == "TIMEOUT"
    assert fake.cancels == [failed.provider_request_id]  # fal is told to stop
    assert fake.submit_count() == 1
    assert await fal.job(generation.id) is None
    assert await fal.kinds_for(caller, generation.id) == ["charge", "refund"]
    assert await fal.balance(caller) == 1000


async def test_an_open_circuit_keeps_generations_queued(fake: FakeFal, fal: Any) -> None:
    provider = fal.rt.providers["fal"]
    caller = await fal.user()
    generation = await fal.start(caller)
    fake.fail_next("submit", [503] * 20)

    for _ in range(8):
        await fal.step(wake=True)

    assert provider.health()["circuit"] == "open"
    assert fake.hits["submit"] == 5  # the breaker stopped calling fal after 5 failures
    waiting = await fal.generation(generation.id)
    assert waiting.status == "QUEUED" and waiting.error_code is None
    job = await fal.job(generation.id)
    assert job["attempts"] == 8 and job["lease_owner"] is None
    assert "paused" in job["last_error"]
    assert await fal.kinds_for(caller, generation.id) == ["charge"]


async def test_readiness_reports_the_open_circuit(fake: FakeFal, app: Any) -> None:
    assert (await app.http.get("/ready")).status_code == 200
    caller = await app.worker.user()
    generation = await app.worker.start(caller)
    fake.fail_next("submit", [503] * 5)
    for _ in range(5):
        await app.worker.step(wake=True)

    response = await app.http.get("/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["providers"]["fal"]["circuit"] == "open"
    assert body["checks"] == {
        "database": True,
        "storage": True,
        "listener": True,
        "provider": False,
    }
    assert list(body["failing"]) == ["provider"]
    assert body["failing"]["provider"].startswith("fal's circuit breaker is open")
    assert (await app.worker.generation(generation.id)).status == "QUEUED"


async def test_readiness_recovers_with_the_circuit(fake: FakeFal, fal_settings: Settings) -> None:
    async with open_app(fal_settings, provider_circuit_cool_down_seconds=0.3) as app:
        caller = await app.worker.user()
        generation = await app.worker.start(caller)
        fake.fail_next("submit", [503] * 5)
        for _ in range(5):
            await app.worker.step(wake=True)
        assert (await app.http.get("/ready")).status_code == 503

        await asyncio.sleep(0.3)  # the cool-down: one probe call may go through
        assert (await app.http.get("/ready")).json()["providers"]["fal"]["circuit"] == "half_open"
        await app.worker.step(wake=True)  # fal answers again: the circuit closes

        ready = await app.http.get("/ready")
        assert ready.status_code == 200 and ready.json()["failing"] == {}
        assert (await app.worker.generation(generation.id)).provider_request_id is not None
