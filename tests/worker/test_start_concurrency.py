"""Concurrent starts never overspend, and one idempotency key never charges twice."""

from __future__ import annotations

import asyncio
from typing import Any

from velro_graphql.errors import InsufficientCredits
from velro_graphql.services.catalog_store import set_model
from velro_graphql.services.generations.start import StartInput, start_generation

IMAGE_MODEL = "fal-ai/flux-pro"


async def priced_at_fifty(sim: Any) -> None:
    await set_model(sim.pool, IMAGE_MODEL, credits=50)
    await sim.rt.reload_models()


async def test_thirty_concurrent_starts_on_credits_for_twenty_make_exactly_twenty(
    sim: Any,
) -> None:
    await priced_at_fifty(sim)
    caller = await sim.user()
    assert await sim.balance(caller) == 20 * 50
    given = StartInput(model_id=IMAGE_MODEL, prompt="a red fox")

    results = await asyncio.gather(
        *(start_generation(sim.rt, caller, given) for _ in range(30)),
        return_exceptions=True,
    )

    started = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(started) == 20 and len({s.generation.id for s in started}) == 20
    assert len(refused) == 10 and all(isinstance(r, InsufficientCredits) for r in refused)
    assert sorted(s.balance for s in started) == list(range(0, 1000, 50))
    assert await sim.balance(caller) == 0
    ledger = await sim.ledger(caller)
    assert [kind for kind, _, _ in ledger].count("charge") == 20
    assert sum(amount for _, amount, _ in ledger) == 0
    async with sim.pool.acquire() as conn:
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM generations WHERE user_id = $1) AS generations,"
            " (SELECT count(*) FROM generation_jobs) AS jobs",
            caller.user_id,
        )
    assert dict(counts) == {"generations": 20, "jobs": 20}


async def test_one_idempotency_key_from_concurrent_calls_makes_and_charges_one(
    sim: Any,
) -> None:
    await priced_at_fifty(sim)
    caller = await sim.user()
    given = StartInput(model_id=IMAGE_MODEL, prompt="a red fox", idempotency_key="click-1")

    results = await asyncio.gather(*(start_generation(sim.rt, caller, given) for _ in range(10)))

    assert len({r.generation.id for r in results}) == 1
    assert [r.created for r in results].count(True) == 1
    assert {r.balance for r in results} == {950}
    assert await sim.balance(caller) == 950
    (generation_id,) = {r.generation.id for r in results}
    assert await sim.kinds_for(caller, generation_id) == ["charge"]
    assert len(await sim.ledger(caller)) == 2  # the welcome grant and the one charge
    await sim.assert_books_balance(caller)
