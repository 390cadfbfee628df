"""ETA accuracy on the simulator: the error of `estimatedCompletionAt` taken at QUEUED.

Runs a worker on the simulator (its default 2 s queue and 6 s run, polled every 0.5 s), lets
20 generations of one model complete so the database has observed its queue and run times,
then starts more, one every second, estimates each at QUEUED exactly as the GraphQL field
does, and compares with when it really completed: the median absolute error as a share of the
real duration (target: under 20 %).

    python bench/eta.py [--warmup 20] [--measured 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from datetime import UTC, datetime

from harness import JWT_SECRET, Postgres, machine, migrated_database, temporary_postgres

from velro_graphql.api.auth import local_user_id
from velro_graphql.config import Settings
from velro_graphql.db.generation_updates import get
from velro_graphql.entities import Caller, Generation
from velro_graphql.services.eta import estimate_completion, timings_of
from velro_graphql.services.generations.start import StartInput, start_generation
from velro_graphql.services.runtime import Runtime, open_runtime
from velro_graphql.services.users import KnownUsers, ensure_user
from velro_graphql.worker.runner import running_worker

MODEL = "fal-ai/aura-flow"  # 6 credits, a typical duration of 20 s in the catalog


async def start(rt: Runtime, n: int) -> Generation:
    email = f"eta-{n // 40}@example.com"
    caller = Caller(user_id=local_user_id(email), email=email, claims={})
    await ensure_user(rt.pool, caller.user_id, email, known=KnownUsers(), create_auth_user=True)
    started = await start_generation(rt, caller, StartInput(model_id=MODEL, prompt=f"eta {n}"))
    return started.generation


async def estimate(rt: Runtime, generation: Generation) -> datetime | None:
    async with rt.pool.acquire() as conn:
        timing = (await timings_of(conn, [MODEL])).get(MODEL)
    typical = rt.models[MODEL].typical_duration_seconds
    return estimate_completion(generation, timing, typical_seconds=typical, now=datetime.now(UTC))


async def finished(rt: Runtime, generation: Generation) -> Generation:
    while True:
        async with rt.pool.acquire() as conn:
            found = await get(conn, generation.id)
        if found is not None and found.finished:
            return found
        await asyncio.sleep(0.1)


async def measure(rt: Runtime, n: int) -> float:
    generation = await start(rt, n)
    assert generation.status == "QUEUED"
    expected = await estimate(rt, generation)
    done = await finished(rt, generation)
    assert expected is not None and done.completed_at is not None
    real = (done.completed_at - done.created_at).total_seconds()
    return abs((expected - done.completed_at).total_seconds()) / real


async def run(pg: Postgres, warmup: int, measured: int) -> None:
    dsn = await migrated_database(pg.admin_dsn, "velro_eta")
    settings = Settings(
        database_url=dsn, velro_home=pg.home / "eta", supabase_jwt_secret=JWT_SECRET,
        provider_poll_seconds=0.5, worker_idle_seconds=0.1,
    )  # fmt: skip
    async with open_runtime(settings) as rt, running_worker(rt):
        first = [await start(rt, n) for n in range(warmup)]
        await asyncio.gather(*(finished(rt, g) for g in first))
        errors = []
        for batch in range(0, measured, 4):  # a few at once, as users start them
            size = min(4, measured - batch)
            jobs = [measure(rt, warmup + batch + k) for k in range(size)]
            errors += await asyncio.gather(*jobs)
            await asyncio.sleep(1)
    print(
        f"after {warmup} generations of {MODEL}: median absolute error at QUEUED "
        f"{statistics.median(errors):.1%} of the real duration over {len(errors)} generations "
        f"(p90 {statistics.quantiles(errors, n=10)[-1]:.1%}, max {max(errors):.1%})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--measured", type=int, default=20)
    args = parser.parse_args()
    print(f"ETA accuracy, simulator; {machine()}")
    with temporary_postgres() as pg:
        asyncio.run(run(pg, args.warmup, args.measured))


if __name__ == "__main__":
    main()
