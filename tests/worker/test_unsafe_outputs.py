"""Outputs the provider flags as unsafe: marked; all of them flagged fails and refunds; and the
support record (provider request id, timings, final logs) kept with each generation."""

from __future__ import annotations

from typing import Any

from tests.fakes.fal_server import FakeFal
from velro_graphql.worker.runner import running_worker


async def test_an_all_flagged_fal_result_is_refunded_as_content_filtered(
    fake: FakeFal, fal: Any
) -> None:
    fake.script(queued=0, in_progress=1, nsfw=(True, True))
    caller = await fal.user()
    generation = await fal.start(caller, parameters={"num_images": 2})

    done = await fal.drive(generation.id)

    assert (done.status, done.error_code) == ("FAILED", "CONTENT_FILTERED")
    assert await fal.outputs(caller, generation.id) == []
    assert await fal.kinds_for(caller, generation.id) == ["charge", "refund"]
    assert await fal.balance(caller) == 1000
    assert done.provider_timings == {"inference": 2.25}
    await fal.assert_books_balance(caller)


async def test_a_partly_flagged_result_completes_with_its_flags_and_support_record(
    fake: FakeFal, fal: Any
) -> None:
    fake.script(queued=0, in_progress=2, nsfw=(False, True))
    caller = await fal.user()
    generation = await fal.start(caller, parameters={"num_images": 2})

    done = await fal.drive(generation.id)

    assert done.status == "COMPLETED"
    assert [o.nsfw for o in await fal.outputs(caller, generation.id)] == [False, True]
    assert done.provider_timings == {"inference": 2.25}
    assert [line["message"] for line in done.logs] == ["Step 1/2", "Step 2/2"]
    assert done.provider_request_id == next(iter(fake.jobs))


async def test_the_simulator_can_flag_everything(sim: Any) -> None:
    caller = await sim.user()
    generation = await sim.start(caller, prompt="a red fox [simulate-nsfw]")

    async with running_worker(sim.rt):
        done = await sim.wait_for(generation.id)

    assert (done.status, done.error_code) == ("FAILED", "CONTENT_FILTERED")
    assert await sim.kinds_for(caller, generation.id) == ["charge", "refund"]
    assert await sim.balance(caller) == 1000
