"""Cancelling generations: fal is told to stop, the refund happens exactly once however many
cancels race, a finished generation cannot be cancelled, and the database itself refuses a
second refund (or charge) row for one generation."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import asyncpg
import pytest

from tests.factories import make_token
from tests.fakes.fal_server import FakeFal
from velro_graphql.errors import BadUserInput
from velro_graphql.services.generations import finish

CANCEL = """
mutation ($id: ID!) {
  cancelGeneration(input: { id: $id }) {
    generation { id status }
    userErrors { field message code }
  }
}
"""


async def _in_progress(fal: Any, fake: FakeFal) -> tuple[Any, Any]:
    fake.script(queued=0, in_progress=50)
    caller = await fal.user()
    generation = await fal.start(caller)
    running = await fal.drive(generation.id, until=("IN_PROGRESS",))
    assert running.provider_request_id is not None
    return caller, running


async def test_cancelling_a_running_fal_generation_stops_it_and_refunds(
    fake: FakeFal, fal: Any
) -> None:
    caller, running = await _in_progress(fal, fake)

    cancelled = await finish.cancel_generation(fal.rt, caller, running.id)

    assert cancelled.balance == 1000
    assert cancelled.generation.status == "CANCELLED"
    assert cancelled.generation.completed_at is not None
    assert fake.cancels == [running.provider_request_id]
    assert fake.jobs[running.provider_request_id].cancelled
    assert await fal.job(running.id) is None
    assert await fal.step(wake=True) == 0  # the worker has nothing left to do with it
    assert (await fal.generation(running.id)).status == "CANCELLED"
    assert await fal.kinds_for(caller, running.id) == ["charge", "refund"]
    assert await fal.balance(caller) == 1000
    assert fake.submit_count() == 1


async def test_two_concurrent_cancels_refund_once(fake: FakeFal, fal: Any) -> None:
    caller, running = await _in_progress(fal, fake)

    results = await asyncio.gather(
        *(finish.cancel_generation(fal.rt, caller, running.id) for _ in range(2)),
        return_exceptions=True,
    )

    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 1 and isinstance(refused[0], BadUserInput)
    assert "already CANCELLED" in refused[0].message
    assert fake.cancels == [running.provider_request_id]
    assert await fal.kinds_for(caller, running.id) == ["charge", "refund"]
    assert await fal.balance(caller) == 1000
    await fal.assert_books_balance(caller)


async def test_cancelling_a_finished_generation_is_a_user_error(
    http: Any, harness_for: Any
) -> None:
    worker = harness_for(http.app.state.services.runtime)
    caller = await worker.user()
    generation = await worker.start(caller)
    assert (await worker.drive(generation.id)).status == "COMPLETED"
    global_id = base64.b64encode(f"Generation:{generation.id}".encode()).decode()

    response = await http.post(
        "/graphql",
        json={"query": CANCEL, "variables": {"id": global_id}},
        headers={"Authorization": f"Bearer {make_token(caller.email)}"},
    )

    payload = response.json()["data"]["cancelGeneration"]
    assert payload["generation"] is None
    (error,) = payload["userErrors"]
    assert error["field"] == "id" and error["code"] == "BAD_USER_INPUT"
    assert "COMPLETED" in error["message"]
    assert (await worker.generation(generation.id)).status == "COMPLETED"
    assert await worker.kinds_for(caller, generation.id) == ["charge"]


@pytest.mark.parametrize("kind", ["refund", "charge"])
async def test_the_database_refuses_a_second_refund_or_charge_row(sim: Any, kind: str) -> None:
    caller = await sim.user()
    generation = await sim.start(caller, prompt="a red fox [simulate-failure]")
    assert (await sim.drive(generation.id)).status == "FAILED"
    assert await sim.kinds_for(caller, generation.id) == ["charge", "refund"]
    amount = generation.cost if kind == "refund" else -generation.cost

    async with sim.pool.acquire() as conn:
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                "INSERT INTO credit_transactions"
                " (user_id, amount, balance_after, kind, generation_id)"
                " VALUES ($1, $2, 1000, $3, $4)",
                caller.user_id,
                amount,
                kind,
                generation.id,
            )

    assert await sim.kinds_for(caller, generation.id) == ["charge", "refund"]
    await sim.assert_books_balance(caller)


async def test_cancelling_while_the_submit_is_in_flight_cancels_the_new_fal_request(
    fake: FakeFal, fal: Any
) -> None:
    fake.script(queued=0, in_progress=50)
    fake.slow_submit(0.5)
    caller = await fal.user()
    generation = await fal.start(caller)

    submitting = asyncio.create_task(fal.step())
    async with asyncio.timeout(5):
        while fake.submit_count() == 0:  # fal accepted it; the reply is on its way
            await asyncio.sleep(0.01)
    cancelled = await finish.cancel_generation(fal.rt, caller, generation.id)
    assert cancelled.generation.status == "CANCELLED" and fake.cancels == []  # no request id yet
    await submitting

    (request_id,) = fake.jobs
    assert fake.cancels == [request_id]  # nobody is left to want (or pay for) it
    assert (await fal.generation(generation.id)).status == "CANCELLED"
    assert await fal.kinds_for(caller, generation.id) == ["charge", "refund"]
    assert await fal.step(wake=True) == 0


async def test_deleting_a_running_fal_generation_stops_it_too(fake: FakeFal, fal: Any) -> None:
    caller, running = await _in_progress(fal, fake)

    assert await finish.delete_generation(fal.rt, caller, running.id) == 1000

    assert fake.cancels == [running.provider_request_id]
    assert await fal.job(running.id) is None
    assert await fal.kinds_for(caller, running.id) == []  # the ledger rows lost their link
    assert await fal.balance(caller) == 1000
