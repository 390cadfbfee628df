"""The dashboard query over HTTP: requests a second with concurrent clients, one serve process.

One user with 10 projects of 10 generations each (the comparison in ARCHITECTURE.md), queried
`me -> projects(first: 10) -> generations(first: 10)`, about 550 values a response.

    python bench/dashboard.py [--concurrency 32] [--seconds 10] [--runs 3] [--wrk]
        [--query dashboard|typename]

`--query typename` times `{ __typename }` instead: the fixed cost of a request, no database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import asyncpg
import httpx
from harness import (
    Postgres,
    bearer,
    latency_summary,
    machine,
    migrated_database,
    run_wrk,
    serve,
    temporary_postgres,
)

from velro_graphql.api.auth import local_user_id

EMAIL = "dashboard@example.com"
DASHBOARD = """query Dashboard {
  me {
    email creditsBalance
    projects(first: 10) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node {
        id name generationCount
        generations(first: 10) { totalCount edges { node { id status modelId prompt cost } } }
      } }
    }
  }
}"""
QUERIES = {"dashboard": DASHBOARD, "typename": "{ __typename }"}
CREATE_PROJECT = """mutation Create($name: String!) {
  createProject(input: { name: $name }) { project { id } userErrors { code } }
}"""


async def seed(client: httpx.AsyncClient, dsn: str) -> int:
    """10 projects (through the API) of 10 finished generations each; return the value count."""
    for n in range(10):
        body = {"query": CREATE_PROJECT, "variables": {"name": f"Project {n}"}}
        (await client.post("/graphql", json=body)).raise_for_status()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO generations (user_id, project_id, model_id, prompt, status, cost,"
            " provider, progress, deadline_at, completed_at)"
            " SELECT p.user_id, p.id, 'fal-ai/flux-pro', 'a lighthouse at dusk, take ' || n,"
            " 'COMPLETED', 50, 'simulator', 1, now() + interval '10 minutes', now()"
            " FROM projects p, generate_series(1, 10) n WHERE p.user_id = $1",
            local_user_id(EMAIL),
        )
    finally:
        await conn.close()
    reply = (await client.post("/graphql", json={"query": DASHBOARD})).json()
    return _count_values(reply["data"])


def _count_values(data: object) -> int:
    if isinstance(data, dict):
        return sum(_count_values(v) for v in data.values())
    if isinstance(data, list):
        return sum(_count_values(v) for v in data)
    return 1


async def measure(
    client: httpx.AsyncClient, concurrency: int, seconds: float, query: str = DASHBOARD
) -> tuple[float, list[float]]:
    """Requests a second over `seconds`, and each request's latency."""
    latencies: list[float] = []
    failures: list[str] = []
    deadline = time.perf_counter() + seconds

    async def client_loop() -> None:
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            try:
                reply = await client.post("/graphql", json={"query": query})
            except httpx.TransportError as error:
                failures.append(repr(error))
                continue
            latencies.append(time.perf_counter() - began)
            if reply.status_code != 200 or "errors" in reply.json():
                raise RuntimeError(f"query failed: {reply.text[:500]}")

    began = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    if failures:
        print(f"{len(failures)} requests failed in transport, e.g. {failures[0]}")
    return len(latencies) / (time.perf_counter() - began), latencies


async def run(
    pg: Postgres,
    concurrency: int,
    seconds: float,
    runs: int,
    use_wrk: bool = False,
    query_name: str = "dashboard",
) -> None:
    dsn = await migrated_database(pg.admin_dsn, "velro_dashboard")
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with (
        serve(dsn, pg.home) as server,
        httpx.AsyncClient(
            base_url=server.url, headers=bearer(EMAIL), timeout=60, limits=limits
        ) as client,
    ):
        values = await seed(client, dsn)
        print(f"dashboard response: {values} values; timing {query_name}")
        query = QUERIES[query_name]
        await measure(client, concurrency, 2, query)  # warm-up
        rates = []
        for n in range(runs):
            cpu, pg_cpu = server.cpu_seconds(), pg.cpu_seconds()
            if use_wrk:
                token = client.headers["authorization"].removeprefix("Bearer ")
                body = json.dumps({"query": query})
                wrk = await run_wrk(
                    f"{server.url}/graphql",
                    body=body,
                    token=token,
                    connections=concurrency,
                    seconds=seconds,
                )
                rate, count, detail = wrk.rate, wrk.requests, wrk.summary()
            else:
                rate, latencies = await measure(client, concurrency, seconds, query)
                count, detail = len(latencies), latency_summary(latencies)
            cpu, pg_cpu = server.cpu_seconds() - cpu, pg.cpu_seconds() - pg_cpu
            rates.append(rate)
            print(
                f"run {n + 1}: {rate:.1f} requests/s; {detail}; "
                f"CPU per request: server {cpu / count * 1000:.2f} ms, "
                f"Postgres {pg_cpu / count * 1000:.2f} ms"
            )
    print(
        f"{query_name} at {concurrency} concurrent: median of {runs} runs "
        f"{statistics.median(rates):.1f} requests/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--wrk", action="store_true", help="load from wrk instead of httpx")
    parser.add_argument("--query", choices=sorted(QUERIES), default="dashboard")
    args = parser.parse_args()
    print(f"{args.query} query; {machine()}")
    with temporary_postgres() as pg:
        asyncio.run(run(pg, args.concurrency, args.seconds, args.runs, args.wrk, args.query))


if __name__ == "__main__":
    main()
