"""Provider outputs that cannot be fetched, fetched only slowly, or not stored because storage
is down: the generation fails and refunds only when nothing can ever be had; otherwise it
completes on the provider's URL and the background copy stores it later, announcing it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from tests.fakes.fal_payloads import png
from tests.fakes.fal_server import FakeFal
from tests.fakes.supabase_storage import FakeStorage, running_fake_storage
from velro_graphql.db.listen import CHANNEL
from velro_graphql.services.generations import outputs


@pytest.fixture(scope="module")
def storage_server() -> Iterator[FakeStorage]:
    with running_fake_storage() as storage:
        yield storage


@pytest.fixture
def storage(storage_server: FakeStorage) -> FakeStorage:
    storage_server.reset()
    return storage_server


@pytest.fixture
async def on_supabase(open_harness: Any, storage: FakeStorage) -> Any:
    """Generations on the fake fal, outputs stored through storage3 in the fake Supabase."""
    return await open_harness(
        supabase_url=storage.url, supabase_service_role_key=storage.service_key
    )


def _restore(storage: FakeStorage) -> None:
    while storage.take_failure() is not None:
        pass


async def _copy_due(harness: Any, generation_id: UUID) -> int:
    """Make the generation's pending copies due now and run one background copy pass."""
    async with harness.pool.acquire() as conn:
        await conn.execute(
            "UPDATE generation_outputs SET next_copy_at = now() WHERE generation_id = $1",
            generation_id,
        )
    copied: int = await outputs.copy_pending(harness.rt)
    return copied


async def test_output_urls_that_404_fail_the_generation_and_refund(fake: FakeFal, fal: Any) -> None:
    fake.script(queued=0, in_progress=0, files="missing")
    caller = await fal.user()
    generation = await fal.start(caller, parameters={"num_images": 2})

    failed = await fal.drive(generation.id)

    assert failed.status == "FAILED" and failed.error_code == "OUTPUT_UNAVAILABLE"
    assert await fal.outputs(caller, generation.id) == []
    assert await fal.kinds_for(caller, generation.id) == ["charge", "refund"]
    assert await fal.balance(caller) == 1000
    assert fake.submit_count() == 1


async def test_storage_down_completes_on_provider_urls_then_copies_and_notifies(
    fake: FakeFal, storage: FakeStorage, on_supabase: Any, database_url: str
) -> None:
    fake.script(queued=0, in_progress=0)
    caller = await on_supabase.user()
    generation = await on_supabase.start(caller)
    storage.fail_next(1000, status=503)

    done = await on_supabase.drive(generation.id)

    assert done.status == "COMPLETED"  # a good generation is not failed by storage
    (pending,) = await on_supabase.outputs(caller, generation.id)
    request_id = done.provider_request_id
    assert not pending.stored and pending.path is None
    assert pending.provider_url == f"{fake.url}/files/ok/{request_id}-0.png"
    assert pending.seed is not None and (pending.width, pending.height) == (64, 48)
    assert await on_supabase.kinds_for(caller, generation.id) == ["charge"]

    assert await _copy_due(on_supabase, generation.id) == 0  # still down: postponed
    (still,) = await on_supabase.outputs(caller, generation.id)
    assert not still.stored
    assert await outputs.copy_pending(on_supabase.rt) == 0  # not due again yet

    _restore(storage)
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    listener = await asyncpg.connect(database_url)
    try:
        await listener.add_listener(CHANNEL, lambda *args: events.put_nowait(json.loads(args[3])))
        assert await _copy_due(on_supabase, generation.id) == 1
        async with asyncio.timeout(5):
            while (event := await events.get())["id"] != str(generation.id):
                pass
    finally:
        await listener.close()

    assert event["kind"] == "generation" and event["user_id"] == str(caller.user_id)
    (copied,) = await on_supabase.outputs(caller, generation.id)
    assert copied.stored and copied.provider_url is None
    assert copied.path == f"{caller.user_id}/no-project/{generation.id}/0.png"
    assert storage.objects["generations", copied.path].data == png()
    assert storage.objects["generations", copied.path].content_type == "image/png"
    assert {("thumbnails", t["path"]) for t in copied.thumbnails} <= set(storage.objects)
    assert copied.seed == pending.seed
    assert await _copy_due(on_supabase, generation.id) == 0  # nothing left to copy
    assert await on_supabase.kinds_for(caller, generation.id) == ["charge"]
    await on_supabase.assert_books_balance(caller)


async def test_an_output_that_stalls_completes_unstored_then_is_copied(
    fake: FakeFal, open_harness: Any
) -> None:
    fake.script(queued=0, in_progress=0, files="stall", stall_seconds=3)
    fal = await open_harness(output_read_timeout_seconds=0.2)
    caller = await fal.user()
    generation = await fal.start(caller)

    done = await fal.drive(generation.id)

    assert done.status == "COMPLETED"
    (pending,) = await fal.outputs(caller, generation.id)
    assert not pending.stored and pending.provider_url is not None
    assert "/files/stall/" in pending.provider_url

    job = fake.jobs[done.provider_request_id]
    job.script = dataclasses.replace(job.script, stall_seconds=0)  # the provider recovers
    assert await _copy_due(fal, generation.id) == 1

    (copied,) = await fal.outputs(caller, generation.id)
    assert copied.stored and copied.byte_size == len(png())
    assert await fal.kinds_for(caller, generation.id) == ["charge"]
