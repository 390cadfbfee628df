"""startGeneration latency over HTTP at 32 concurrent clients, against `serve --no-worker`.

Each request checks, charges and queues a generation in one transaction. Requests rotate over
many users (a welcome grant of 1000 credits pays for 40 starts of a 25-credit model), so
concurrent charges mostly hit different profile rows, as they would in production.

    python bench/start_latency.py [--requests 2000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from itertools import cycle

import httpx
from harness import (
    Postgres,
    bearer,
    latency_summary,
    machine,
    migrated_database,
    serve,
    temporary_postgres,
)

MODEL = "fal-ai/stable-cascade"
STARTS_PER_USER = 40
START = """mutation Start($input: StartGenerationInput!) {
  startGeneration(input: $input) { generation { id status } creditsBalance userErrors { code } }
}"""


async def run(pg: Postgres, requests: int, concurrency: int) -> None:
    dsn = await migrated_database(pg.admin_dsn, "velro_start_latency")
    # One start per user warms up, the rest of each user's credits go to the measured run.
    count = -(-requests // (STARTS_PER_USER - 1))
    users = [bearer(f"start-{n}@example.com") for n in range(count)]
    async with (
        serve(dsn, pg.home) as server,
        httpx.AsyncClient(
            base_url=server.url,
            timeout=60,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        ) as client,
    ):
        # First sign-in provisions each user: keep it out of the measurement.
        await _drive(client, [("{ me { id } }", h) for h in users], concurrency)
        await _drive(client, [(START, h) for h in users], concurrency)
        jobs = [(START, h) for h, _ in zip(cycle(users), range(requests), strict=False)]
        cpu, pg_cpu = server.cpu_seconds(), pg.cpu_seconds()
        began = time.perf_counter()
        latencies = await _drive(client, jobs, concurrency)
        elapsed = time.perf_counter() - began
        cpu, pg_cpu = server.cpu_seconds() - cpu, pg.cpu_seconds() - pg_cpu
    print(
        f"startGeneration x{len(latencies)} at {concurrency} concurrent: "
        f"{len(latencies) / elapsed:.1f} requests/s; {latency_summary(latencies)}"
    )
    done = max(len(latencies), 1)
    print(
        f"CPU per request: server {cpu / done * 1000:.2f} ms, "
        f"Postgres {pg_cpu / done * 1000:.2f} ms"
    )


async def _drive(
    client: httpx.AsyncClient, jobs: list[tuple[str, dict[str, str]]], concurrency: int
) -> list[float]:
    """Send every job with `concurrency` clients; return each request's latency in seconds."""
    queue = iter(jobs)
    latencies: list[float] = []
    failures: list[str] = []

    async def client_loop() -> None:
        for query, headers in queue:
            began = time.perf_counter()
            try:
                reply = await client.post("/graphql", json=_body(query), headers=headers)
            except httpx.TransportError as error:
                failures.append(repr(error))
                continue
            latencies.append(time.perf_counter() - began)
            _check(reply)

    await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    if failures:
        print(f"{len(failures)} requests failed in transport, e.g. {failures[0]}")
    return latencies


def _body(query: str) -> dict[str, object]:
    if query is START:
        return {"query": query, "variables": {"input": {"modelId": MODEL, "prompt": "bench"}}}
    return {"query": query}


def _check(reply: httpx.Response) -> None:
    body = reply.json()
    errors = body.get("errors") or (body.get("data") or {}).get("startGeneration", {}).get(
        "userErrors"
    )
    if reply.status_code != 200 or errors:
        raise RuntimeError(f"request failed: {reply.status_code} {body}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    print(f"startGeneration latency; {machine()}")
    with temporary_postgres() as pg:
        asyncio.run(run(pg, args.requests, args.concurrency))


if __name__ == "__main__":
    main()
