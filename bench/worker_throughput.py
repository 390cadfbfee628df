"""Worker throughput: one Worker running simulator generations at zero delay.

Inserts N generations through `services.generations.start.start_generation` (charged, with
their jobs), then runs one `Worker` until every generation is COMPLETED, counting the
generation changes Postgres announces (each committed UPDATE of a generation fires one NOTIFY).

    python bench/worker_throughput.py [--generations 400] [--concurrency 8 32]
                                      [--image-size square_hd]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from uuid import UUID

import asyncpg
from harness import JWT_SECRET, Postgres, machine, migrated_database, temporary_postgres

from velro_graphql.api.auth import local_user_id
from velro_graphql.config import Settings
from velro_graphql.db.listen import CHANNEL
from velro_graphql.entities import Caller
from velro_graphql.services.generations.start import StartInput, start_generation
from velro_graphql.services.runtime import Runtime, open_runtime
from velro_graphql.services.users import KnownUsers, ensure_user
from velro_graphql.worker.runner import Worker

MODEL = "fal-ai/stable-cascade"  # 25 credits: 40 generations per welcome grant of 1000
PER_USER = 40


def settings_for(dsn: str, home: Path, concurrency: int) -> Settings:
    return Settings(
        database_url=dsn,
        velro_home=home,
        supabase_jwt_secret=JWT_SECRET,
        simulator_queue_seconds=0,
        simulator_run_seconds=0,
        provider_poll_seconds=0,
        worker_idle_seconds=0.01,
        worker_concurrency=concurrency,
    )


async def insert_generations(rt: Runtime, count: int, tag: str, image_size: str) -> None:
    known = KnownUsers()
    for n in range(count):
        email = f"worker-bench-{tag}-{n // PER_USER}@example.com"
        caller = Caller(user_id=local_user_id(email), email=email, claims={})
        if n % PER_USER == 0:
            await ensure_user(rt.pool, caller.user_id, email, known=known, create_auth_user=True)
        given = StartInput(
            model_id=MODEL, prompt=f"bench {n}", parameters={"image_size": image_size}
        )
        await start_generation(rt, caller, given)


async def run_once(pg: Postgres, count: int, concurrency: int, image_size: str) -> None:
    tag = f"{image_size}_c{concurrency}"
    dsn = await migrated_database(pg.admin_dsn, f"velro_worker_{tag}")
    settings = settings_for(dsn, pg.home / tag, concurrency)
    async with open_runtime(settings) as rt:
        inserted = time.perf_counter()
        await insert_generations(rt, count, tag, image_size)
        insert_seconds = time.perf_counter() - inserted
        changes: Counter[UUID] = Counter()
        listener = await asyncpg.connect(dsn)
        await listener.add_listener(CHANNEL, lambda *args: _count(changes, args[3]))
        worker = Worker(rt)
        began, cpu, pg_cpu = time.perf_counter(), time.process_time(), pg.cpu_seconds()
        task = asyncio.create_task(worker.run())
        statuses = await _wait_finished(rt, count)
        elapsed = time.perf_counter() - began
        cpu, pg_cpu = time.process_time() - cpu, pg.cpu_seconds() - pg_cpu
        worker.stop()
        await task
        await asyncio.sleep(0.2)  # let the last notifications arrive
        await listener.close()
    updates = sum(changes.values())
    print(
        f"{image_size}, concurrency {concurrency:>3}: {count} generations in {elapsed:.2f} s = "
        f"{count / elapsed:.1f} generations/s; {updates} generation updates committed = "
        f"{updates / elapsed:.1f} state changes/s ({updates / count:.1f} per generation); "
        f"statuses {dict(statuses)}; starting them took {insert_seconds:.2f} s "
        f"({count / insert_seconds:.0f}/s, sequential); CPU per generation: worker process "
        f"{cpu / count * 1000:.1f} ms, Postgres {pg_cpu / count * 1000:.1f} ms"
    )


def _count(changes: Counter[UUID], payload: object) -> None:
    data = json.loads(str(payload))
    if data.get("kind") == "generation":
        changes[UUID(data["id"])] += 1


async def _wait_finished(rt: Runtime, count: int) -> Counter[str]:
    query = "SELECT status, count(*) FROM generations GROUP BY status"
    while True:
        async with rt.pool.acquire() as conn:
            rows = await conn.fetch(query)
        statuses = Counter({row["status"]: row["count"] for row in rows})
        if sum(n for s, n in statuses.items() if s in ("COMPLETED", "FAILED", "CANCELLED")) >= (
            sum(statuses.values())
        ):
            return statuses
        await asyncio.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=400)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    parser.add_argument(
        "--image-size",
        default="square_hd",
        help="the model's image_size preset: square_hd (1024 px, its default) or square (512)",
    )
    args = parser.parse_args()
    print(f"worker throughput, simulator at zero delay; {machine()}")
    with temporary_postgres() as pg:
        for concurrency in args.concurrency:
            asyncio.run(run_once(pg, args.generations, concurrency, args.image_size))


if __name__ == "__main__":
    main()
