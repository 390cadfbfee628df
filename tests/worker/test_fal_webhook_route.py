"""fal webhooks through the whole HTTP app: signed ones wake the job at once, duplicates and
forgeries change nothing, and a second fal request for one generation (after a submit reply
that came too late) is noticed and cancelled rather than paid for in silence."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.fakes.fal_payloads import webhook_body
from tests.fakes.fal_server import FakeFal
from velro_graphql.providers.fal import FalProvider

BASE_URL = "http://velro.test"  # the `app` fixture's PUBLIC_BASE_URL


async def _post_webhook(app: Any, fake: FakeFal, request_id: str, **signing: Any) -> httpx.Response:
    job = fake.jobs[request_id]
    assert job.webhook_url and job.webhook_url.startswith(f"{BASE_URL}/webhooks/fal?")
    body = json.dumps(webhook_body(job, f"{fake.url}/files")).encode()
    headers = fake.signed_headers(request_id, body, **signing)
    return await app.http.post(job.webhook_url, content=body, headers=headers)


async def _submitted(app: Any, fake: FakeFal) -> tuple[Any, Any, str]:
    caller = await app.worker.user()
    generation = await app.worker.start(caller)
    assert await app.worker.step() == 1
    (request_id,) = fake.jobs
    return caller, generation, request_id


async def _submitted_with_a_lost_reply(app: Any, fake: FakeFal) -> tuple[Any, Any, str]:
    """A generation fal accepted, whose submit reply came after `impatient` gave up on it."""
    fake.script(queued=0, in_progress=0)
    fake.slow_submit(2.0)
    return await _submitted(app, fake)


async def test_a_signed_webhook_wakes_the_job_and_a_duplicate_changes_nothing(
    fake: FakeFal, app: Any
) -> None:
    fake.script(queued=0, in_progress=0)
    caller, generation, request_id = await _submitted(app, fake)
    assert (await app.worker.job(generation.id))["due_in"].total_seconds() > 20
    assert await app.worker.step() == 0  # nothing due: the next poll is 30 s away

    response = await _post_webhook(app, fake, request_id)

    assert response.status_code == 200
    assert (await app.worker.job(generation.id))["due_in"].total_seconds() <= 0
    assert await app.worker.step() == 1
    done = await app.worker.generation(generation.id)
    assert done.status == "COMPLETED"
    assert len(await app.worker.outputs(caller, generation.id)) == 1

    again = await _post_webhook(app, fake, request_id)

    assert again.status_code == 200
    assert await app.worker.generation(generation.id) == done
    assert await app.worker.job(generation.id) is None
    assert await app.worker.step(wake=True) == 0
    assert await app.worker.kinds_for(caller, generation.id) == ["charge"]
    assert fake.submit_count() == 1 and fake.cancels == []


@pytest.mark.parametrize(
    "signing",
    [{"key": Ed25519PrivateKey.generate()}, {"skew": -600}, {"skew": 600}],
    ids=["wrong-key", "stale", "future"],
)
async def test_an_invalid_webhook_is_refused_and_changes_nothing(
    fake: FakeFal, app: Any, signing: dict[str, Any]
) -> None:
    fake.script(queued=0, in_progress=0)
    _, generation, request_id = await _submitted(app, fake)
    before = (await app.worker.job(generation.id))["run_at"]
    if "skew" in signing:  # from now, not from when the tests were collected
        signing = {"timestamp": int(time.time()) + signing["skew"]}

    response = await _post_webhook(app, fake, request_id, **signing)

    assert response.status_code == 401
    assert (await app.worker.job(generation.id))["run_at"] == before
    assert (await app.worker.generation(generation.id)).status == "QUEUED"
    assert await app.worker.step() == 0


async def test_a_webhook_with_a_tampered_body_is_refused(fake: FakeFal, app: Any) -> None:
    _, generation, request_id = await _submitted(app, fake)
    job = fake.jobs[request_id]
    body = json.dumps(webhook_body(job, f"{fake.url}/files")).encode()
    headers = fake.signed_headers(request_id, body)
    before = (await app.worker.job(generation.id))["run_at"]

    response = await app.http.post(job.webhook_url, content=body + b" ", headers=headers)

    assert response.status_code == 401
    assert (await app.worker.job(generation.id))["run_at"] == before


@pytest.fixture
async def impatient(app: Any) -> AsyncIterator[FalProvider]:
    """A fal provider that gives up on a submit reply after a second."""
    runtime = app.worker.rt
    original = runtime.providers["fal"]
    provider = FalProvider("test-fal-key-123456", poll_interval=0.05, submit_timeout=1.0)
    runtime.providers["fal"] = provider
    yield provider
    runtime.providers["fal"] = original
    await provider.close()


async def test_a_lost_submit_reply_is_adopted_from_its_webhook_without_resubmitting(
    fake: FakeFal, app: Any, impatient: FalProvider
) -> None:
    caller, generation, request_id = await _submitted_with_a_lost_reply(app, fake)

    assert (await app.worker.generation(generation.id)).provider_request_id is None
    assert (await app.worker.job(generation.id))["attempts"] == 1

    assert (await _post_webhook(app, fake, request_id)).status_code == 200
    done = await app.worker.drive(generation.id)

    assert done.status == "COMPLETED" and done.provider_request_id == request_id
    assert fake.submit_count() == 1 and fake.cancels == []
    assert await app.worker.kinds_for(caller, generation.id) == ["charge"]


async def test_a_lost_submit_reply_is_not_submitted_again_while_its_webhook_may_come(
    fake: FakeFal, app: Any, impatient: FalProvider
) -> None:
    caller, generation, first = await _submitted_with_a_lost_reply(app, fake)

    for _ in range(3):
        assert await app.worker.step(wake=True) == 1  # waits: fal may already run it
    assert fake.submit_count() == 1

    assert (await _post_webhook(app, fake, first)).status_code == 200
    done = await app.worker.drive(generation.id)
    assert done.status == "COMPLETED" and done.provider_request_id == first
    assert fake.submit_count() == 1 and fake.cancels == []
    assert await app.worker.kinds_for(caller, generation.id) == ["charge"]


async def test_a_submit_fal_refused_is_submitted_again(fake: FakeFal, app: Any) -> None:
    fake.script(queued=0, in_progress=0)
    fake.fail_next("submit", [500])
    caller = await app.worker.user()
    generation = await app.worker.start(caller)
    assert await app.worker.step() == 1  # refused: certainly no job started at fal
    done = await app.worker.drive(generation.id)
    assert done.status == "COMPLETED"
    assert fake.submit_count() == 1 and fake.cancels == []


async def test_a_webhook_url_we_did_not_sign_adopts_nothing(
    fake: FakeFal, app: Any, impatient: FalProvider
) -> None:
    _, generation, request_id = await _submitted_with_a_lost_reply(app, fake)
    job = fake.jobs[request_id]
    forged_url = job.webhook_url.split("&tag=")[0]  # the generation id without our tag
    body = json.dumps(webhook_body(job, f"{fake.url}/files")).encode()
    reply = await app.http.post(
        forged_url, content=body, headers=fake.signed_headers(request_id, body)
    )
    assert reply.status_code == 200
    assert (await app.worker.generation(generation.id)).provider_request_id is None
