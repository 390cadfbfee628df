"""velro-graphql and PostGraphile 5 side by side, on one database, with wrk.

One temporary embedded Postgres with our migrations and the dashboard data of
`bench/dashboard.py` (1 user, 10 projects x 10 generations). Both servers answer the dashboard
with the same values (checked first), each request as role `authenticated` with the caller's
claims. Then, for each round, in alternating order, a fresh process of each server gets: the
dashboard from wrk at `--concurrency` connections, `{ __typename }` the same way, and the
dashboard from one connection. Ratios are ours / PostGraphile's, per round, then their median.

    python bench/compare.py [--rounds 3] [--seconds 10] [--concurrency 32] [--warmup 3] [--quick]

Needs wrk on PATH and `npm ci` in bench/postgraphile (see bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dashboard
import httpx
import peer
from harness import (
    Postgres,
    Server,
    Wrk,
    bearer,
    machine,
    migrated_database,
    run_wrk,
    serve,
    temporary_postgres,
    token,
)

TYPENAME = "{ __typename }"
ServerFactory = Callable[[str, Path], contextlib.AbstractAsyncContextManager[Server]]


@dataclass(frozen=True)
class Contender:
    name: str
    dashboard: str
    serve: ServerFactory


OURS = Contender("velro-graphql", dashboard.DASHBOARD, serve)
THEIRS = Contender("PostGraphile 5", peer.DASHBOARD, peer.serve_postgraphile)


@dataclass(frozen=True)
class Options:
    rounds: int
    seconds: float
    concurrency: int
    warmup: float


@dataclass(frozen=True)
class Figures:
    """One server's figures in one round; CPU in ms per request."""

    rate: float
    p50_ms: float
    p99_ms: float
    server_cpu_ms: float
    postgres_cpu_ms: float
    typename_rate: float
    typename_cpu_ms: float
    unloaded_p50_ms: float
    peak_rss_mib: float

    def line(self) -> str:
        return (
            f"dashboard {self.rate:.0f} req/s, p50 {self.p50_ms:.1f} ms, "
            f"p99 {self.p99_ms:.1f} ms, CPU/request server {self.server_cpu_ms:.2f} ms + "
            f"Postgres {self.postgres_cpu_ms:.2f} ms; __typename {self.typename_rate:.0f} req/s "
            f"({self.typename_cpu_ms:.2f} ms server CPU); 1 connection p50 "
            f"{self.unloaded_p50_ms:.2f} ms; peak RSS {self.peak_rss_mib:.0f} MiB"
        )


# (label, figure): the ratios printed per round and as medians.
RATIOS = [
    ("throughput", "rate"),
    ("p99 under load", "p99_ms"),
    ("server CPU/req", "server_cpu_ms"),
    ("Postgres CPU/req", "postgres_cpu_ms"),
    ("__typename throughput", "typename_rate"),
    ("unloaded p50", "unloaded_p50_ms"),
    ("peak RSS", "peak_rss_mib"),
]


async def check_same_values(dsn: str, home: Path) -> int:
    """Seed the dashboard data, ask both servers, fail unless the values are equal."""
    headers = bearer(dashboard.EMAIL)
    async with (
        serve(dsn, home) as ours,
        httpx.AsyncClient(base_url=ours.url, headers=headers, timeout=60) as client,
    ):
        count = await dashboard.seed(client, dsn)
        mine = await _dashboard(client, OURS.dashboard)
    await peer.prepare(dsn)
    async with (
        peer.serve_postgraphile(dsn, home) as theirs,
        httpx.AsyncClient(base_url=theirs.url, headers=headers, timeout=60) as client,
    ):
        their = await _dashboard(client, THEIRS.dashboard)
    if peer.ours_values(mine) != peer.postgraphile_values(their):
        raise RuntimeError(
            "the servers disagree:\n"
            f"{json.dumps(mine, indent=1)[:2000]}\n{json.dumps(their, indent=1)[:2000]}"
        )
    return count


async def _dashboard(client: httpx.AsyncClient, query: str) -> dict[str, Any]:
    reply = (await client.post("/graphql", json={"query": query})).raise_for_status().json()
    if "errors" in reply:
        raise RuntimeError(f"the dashboard failed: {reply['errors']}")
    data: dict[str, Any] = reply["data"]
    return data


async def measure(pg: Postgres, dsn: str, contender: Contender, options: Options) -> Figures:
    """A fresh server: warm-up, the dashboard and __typename under load, then unloaded."""
    async with contender.serve(dsn, pg.home) as server:
        dashboard_body = json.dumps({"query": contender.dashboard})
        load = _loader(server)
        await load(dashboard_body, options.concurrency, options.warmup)
        cpu, pg_cpu = server.cpu_seconds(), pg.cpu_seconds()
        busy = await load(dashboard_body, options.concurrency, options.seconds)
        cpu, pg_cpu = server.cpu_seconds() - cpu, pg.cpu_seconds() - pg_cpu
        typename_cpu = server.cpu_seconds()
        typename = await load(json.dumps({"query": TYPENAME}), options.concurrency, options.seconds)
        typename_cpu = server.cpu_seconds() - typename_cpu
        unloaded = await load(dashboard_body, 1, options.seconds)
        return Figures(
            rate=busy.rate,
            p50_ms=busy.p50_ms,
            p99_ms=busy.p99_ms,
            server_cpu_ms=cpu / busy.requests * 1000,
            postgres_cpu_ms=pg_cpu / busy.requests * 1000,
            typename_rate=typename.rate,
            typename_cpu_ms=typename_cpu / typename.requests * 1000,
            unloaded_p50_ms=unloaded.p50_ms,
            peak_rss_mib=server.peak_rss_kib() / 1024,
        )


def _loader(server: Server) -> Callable[[str, int, float], Awaitable[Wrk]]:
    bearer_token = token(dashboard.EMAIL)

    async def load(body: str, connections: int, seconds: float) -> Wrk:
        wrk = await run_wrk(
            f"{server.url}/graphql",
            body=body,
            token=bearer_token,
            connections=connections,
            seconds=seconds,
        )
        if wrk.socket_errors:
            print(f"  ({server.url}, {connections} connections: {wrk.socket_errors})")
        return wrk

    return load


def ratios(ours: Figures, theirs: Figures) -> dict[str, float]:
    return {label: getattr(ours, name) / getattr(theirs, name) for label, name in RATIOS}


def ratio_line(values: dict[str, float]) -> str:
    return ", ".join(f"{label} {value:.2f}x" for label, value in values.items())


async def run(pg: Postgres, options: Options) -> None:
    dsn = await migrated_database(pg.admin_dsn, "velro_compare")
    values = await check_same_values(dsn, pg.home)
    print(f"dashboard: {values} values, equal on both servers")
    per_round = []
    for n in range(options.rounds):
        order = [OURS, THEIRS] if n % 2 == 0 else [THEIRS, OURS]
        figures = {c.name: await measure(pg, dsn, c, options) for c in order}
        for contender in order:
            print(f"round {n + 1} {contender.name}: {figures[contender.name].line()}")
        per_round.append(ratios(figures[OURS.name], figures[THEIRS.name]))
        print(f"round {n + 1} ours/PostGraphile: {ratio_line(per_round[-1])}")
    medians = {label: statistics.median(r[label] for r in per_round) for label, _ in RATIOS}
    print(f"median of {options.rounds} rounds, ours/PostGraphile: {ratio_line(medians)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=3, help="seconds of load before each")
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s: a smoke run")
    args = parser.parse_args()
    if not peer.installed():
        parser.error(f"PostGraphile is not installed: cd {peer.PEER_DIR} && npm ci")
    options = Options(args.rounds, args.seconds, args.concurrency, args.warmup)
    if args.quick:
        options = Options(1, 2, args.concurrency, warmup=1)
    print(f"velro-graphql vs PostGraphile 5; {machine()}")
    with temporary_postgres() as pg:
        asyncio.run(run(pg, options))


if __name__ == "__main__":
    main()
