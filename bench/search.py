"""Search and sorted, filtered pages at 100,000 generations of one user, over HTTP.

Seeds one user with 100,000 generations (prompts of six words from a 200-word vocabulary, five
statuses, four models, costs and times spread out), then reports the p50 of
  - a prompt search: `generations(first: 20, filter: {search: ...})`, and
  - a filtered, sorted page: `generations(first: 20, filter: {status, modelId},
    orderBy: {field: COST})`,
each with its totalCount, as HTTP latency on localhost (an upper bound of server time) and as
Postgres's own execution time of the compiled statement, whose EXPLAIN is printed. The time is
EXPLAIN ANALYZE's with TIMING OFF: timing every node costs a clock read per row and node,
which for a plan visiting thousands of rows is more than the work measured.

    python bench/search.py [--generations 100000] [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from typing import Any

import asyncpg
import httpx
from graphql import parse
from harness import (
    Postgres,
    bearer,
    latency_summary,
    machine,
    migrated_database,
    serve,
    temporary_postgres,
)

from velro_graphql.api.auth import local_user_id
from velro_graphql.api.compiled_plan import plan_for
from velro_graphql.api.schema import build_schema
from velro_graphql.services.read_model import fetch_json

EMAIL = "search@example.com"
QUERIES = {
    "search": '{ generations(first: 20, filter: {search: "lighthouse"})'
    " { totalCount nodes { id prompt createdAt } } }",
    "search, two words": '{ generations(first: 20, filter: {search: "lighthouse dusk"})'
    " { totalCount nodes { id prompt createdAt } } }",
    "filtered, sorted page": "{ generations(first: 20, filter: {status: COMPLETED, modelId:"
    ' "fal-ai/flux-pro"}, orderBy: {field: COST, direction: DESC})'
    " { totalCount pageInfo { endCursor } nodes { id cost } } }",
}
SEED = """
INSERT INTO generations (user_id, model_id, prompt, status, cost, provider, deadline_at,
                         created_at, started_at, completed_at, error_code, error_message)
SELECT $1, (ARRAY['fal-ai/flux-pro', 'fal-ai/aura-flow', 'fal-ai/stable-cascade',
                  'fal-ai/flux-pro/v1.1-ultra'])[1 + n % 4],
       (SELECT string_agg(w[1 + ((n * 7919 + k * k * 104729) % 200)], ' ')
        FROM generate_series(1, 6) k),
       s, 5 * (1 + n % 17), 'simulator', now(), t, t, CASE WHEN s IN ('COMPLETED', 'FAILED',
       'CANCELLED') THEN t + interval '8 seconds' END, CASE WHEN s = 'FAILED' THEN 'X' END,
       CASE WHEN s = 'FAILED' THEN 'x' END
FROM generate_series(1, $2) n,
     LATERAL (SELECT (ARRAY['COMPLETED', 'COMPLETED', 'COMPLETED', 'FAILED', 'CANCELLED',
                            'QUEUED', 'IN_PROGRESS'])[1 + n % 7] AS s,
                     now() - make_interval(secs => n * 30) AS t) x,
     (SELECT array_agg(word) AS w FROM (SELECT 'w' || g AS word FROM generate_series(1, 197) g
      UNION ALL VALUES ('lighthouse'), ('dusk'), ('fox')) v) words
"""


class Explaining:
    """A connection whose fetchval runs EXPLAIN ANALYZE of the statement instead."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.plan = ""

    async def execute(self, sql: str) -> None:
        await self.conn.execute(sql)

    async def fetchval(self, sql: str, *args: Any) -> None:
        rows = await self.conn.fetch("EXPLAIN (ANALYZE, TIMING OFF, BUFFERS OFF) " + sql, *args)
        self.plan = "\n".join(r[0] for r in rows)


async def seed(dsn: str, count: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(SEED, local_user_id(EMAIL), count)
        await conn.execute("VACUUM ANALYZE generations")  # as autovacuum would, in time
    finally:
        await conn.close()


async def explain(dsn: str, document: str) -> tuple[str, list[float]]:
    plan = plan_for(build_schema()._schema, parse(document), document, None, {})
    assert isinstance(plan, tuple), plan  # the compiled path
    conn = await asyncpg.connect(dsn)
    try:
        shim = Explaining(conn)
        times = []
        for _ in range(30):
            await fetch_json(shim, local_user_id(EMAIL), plan)  # type: ignore[arg-type]
            times.append(float(re.findall(r"Execution Time: ([\d.]+)", shim.plan)[0]))
        return shim.plan, sorted(times)
    finally:
        await conn.close()


async def explain_search_function(dsn: str, words: str) -> str:
    """The plan of the search function's own statement (its body from the catalog, run as
    its owner would run it): the function scan in the outer plan hides the index it uses."""
    conn = await asyncpg.connect(dsn)
    try:
        body = await conn.fetchval(
            "SELECT prosrc FROM pg_proc WHERE proname = 'generations_matching'"
        )
        sql = re.sub(r"\bowner\b", "$1", body).replace("words", "$2")
        rows = await conn.fetch("EXPLAIN (ANALYZE, TIMING OFF, BUFFERS OFF) " + sql,
                                local_user_id(EMAIL), words)  # fmt: skip
        return "\n".join(r[0] for r in rows)
    finally:
        await conn.close()


async def run(pg: Postgres, count: int, requests: int) -> None:
    dsn = await migrated_database(pg.admin_dsn, "velro_search")
    async with (
        serve(dsn, pg.home) as server,
        httpx.AsyncClient(base_url=server.url, headers=bearer(EMAIL), timeout=30) as client,
    ):
        (await client.post("/graphql", json={"query": "{ me { id } }"})).raise_for_status()
        began = time.perf_counter()
        await seed(dsn, count)
        print(f"seeded {count} generations in {time.perf_counter() - began:.1f} s")
        for name, document in QUERIES.items():
            reply = (await client.post("/graphql", json={"query": document})).json()
            total = reply["data"]["generations"]["totalCount"]
            seconds = []
            for _ in range(requests):
                began = time.perf_counter()
                (await client.post("/graphql", json={"query": document})).raise_for_status()
                seconds.append(time.perf_counter() - began)
            plan, times = await explain(dsn, document)
            print(f"\n{name} (totalCount {total}): HTTP {latency_summary(seconds)}")
            print(f"  Postgres execution p50 {times[len(times) // 2]:.2f} ms")
            print("  " + plan.replace("\n", "\n  "))
        inner = await explain_search_function(dsn, "lighthouse")
        print("\ninside velro.generations_matching(owner, 'lighthouse'):")
        print("  " + inner.replace("\n", "\n  "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    print(f"search and sorted pages; {machine()}")
    with temporary_postgres() as pg:
        asyncio.run(run(pg, args.generations, args.requests))


if __name__ == "__main__":
    main()
