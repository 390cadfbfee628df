"""Subscription fan-out: ours against a bare WebSocket floor, N subscribers, commit -> receipt.

For each shape (`shared`: N subscribers over G generations of one user; `realistic`: U users,
each subscriber watching its own user's generation that nobody else watches), one database is
seeded, then each server in turn (alternating which goes first; a fresh process each) gets the
same client (`bench/fanout_client.py`, a separate process) and the same committer
(`bench/fanout_load.py`, several Postgres connections): connect every subscriber, probe another
user's generation, targeted deliveries at `--rate` a second for `--seconds`, more at the same
rate until `--soak` deliveries (RSS after), then `--broadcasts` commits that change every
watched generation at once. The floor is `bench/bare_ws.py`, fed by the same trigger and
LISTEN channel. Prints each server's figures, then ours / floor with the targets of issue 13.

    python bench/subscription_fanout.py [--subscribers 1000] [--shapes shared realistic]
        [--users 100] [--generations 10] [--rate 2000] [--seconds 30] [--soak 100000]
        [--broadcasts 5] [--parallel 200] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import resource
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import uvloop
from bare_ws import global_id
from fanout_client import now
from fanout_load import Committer, Shape, seed
from fanout_report import Phase, Result, compare, describe
from harness import (
    JWT_SECRET,
    Postgres,
    Server,
    free_port,
    machine,
    migrated_database,
    process_tree_cpu_seconds,
    run_server,
    serve,
    temporary_postgres,
    token,
)

BENCH = Path(__file__).resolve().parent
# The contract's per-user cap (10 by default) would refuse the benchmark's subscribers.
OURS_ENV = {"MAX_WEBSOCKETS_PER_USER": "10000"}


@contextlib.asynccontextmanager
async def serve_floor(dsn: str, home: Path) -> AsyncIterator[Server]:
    """Run `bench/bare_ws.py` on `dsn` until the block ends."""
    port = free_port()
    env = {"DATABASE_URL": dsn, "SUPABASE_JWT_SECRET": JWT_SECRET}
    command = [sys.executable, str(BENCH / "bare_ws.py"), "--port", str(port)]
    async with run_server(command, env, home / f"floor-{port}.log", port) as server:
        yield server


def launch(kind: str, dsn: str, home: Path) -> contextlib.AbstractAsyncContextManager[Server]:
    return serve(dsn, home, env=OURS_ENV) if kind == "ours" else serve_floor(dsn, home)


class Client:
    """The client process, asked one command at a time."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def ask(self, command: str) -> dict[str, Any]:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(command.encode() + b"\n")
        await self.process.stdin.drain()
        line = await self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the client process ended (asked {command!r})")
        answer: dict[str, Any] = orjson.loads(line)
        return answer

    def cpu_seconds(self) -> float:
        return process_tree_cpu_seconds(self.process.pid)


@contextlib.asynccontextmanager
async def client_for(server: Server, shape: Shape, parallel: int) -> AsyncIterator[Client]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(BENCH / "fanout_client.py"),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**30,
    )  # fmt: skip
    plan = {
        "url": server.ws_url,
        "tokens": [token(email) for email in shape.emails],
        "watch": [[user, global_id(str(generation))] for user, generation in shape.watch],
        "parallel": parallel,
    }
    assert process.stdin
    process.stdin.write(orjson.dumps(plan) + b"\n")
    client = Client(process)
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.ask("close"), 60)
        if process.returncode is None:
            process.kill()
        await process.wait()


async def wait_for(client: Client, expected: int, quiet: float = 5, timeout: float = 120) -> None:
    """Until `expected` deliveries arrived, nothing arrived for `quiet` s, or `timeout`."""
    began = last_change = now()
    last = -1
    while now() - began < timeout and now() - last_change < quiet:
        count = (await client.ask("count"))["count"]
        if count >= expected:
            return
        if count != last:
            last, last_change = count, now()
        await asyncio.sleep(0.1)


def match(
    receipts: list[list[Any]], committed: dict[int, tuple[list[Any], float]], shape: Shape
) -> tuple[list[float], int, int]:
    """Latencies (ms) of each (subscriber, event)'s first receipt; repeats; misdirected."""
    seen: set[tuple[int, int]] = set()
    latencies: list[float] = []
    repeats = misdirected = 0
    for index, event, at in receipts:
        if event not in committed:
            continue  # a late receipt of an earlier phase
        generations, committed_at = committed[event]
        if shape.watch[index][1] not in generations:
            misdirected += 1
        elif (index, event) in seen:
            repeats += 1
        else:
            seen.add((index, event))
            latencies.append((at - committed_at) * 1000)
    return latencies, repeats, misdirected


def deliveries_per_commit(shape: Shape, committer: Committer) -> float:
    return committer.batch * len(shape.watch) / len(shape.watchers)


def expected_receipts(shape: Shape, committed: dict[int, tuple[list[Any], float]]) -> int:
    return sum(shape.watchers[g] for generations, _ in committed.values() for g in generations)


async def targeted(
    server: Server, pg: Postgres, client: Client, committer: Committer, shape: Shape, args: Any
) -> Phase:
    fan = deliveries_per_commit(shape, committer)
    commits = max(1, round(args.rate * args.seconds / fan))
    meters = (server.cpu_seconds, pg.cpu_seconds, client.cpu_seconds, now)
    began = [meter() for meter in meters]
    committed, commit_rate = await committer.stream(
        shape.generations, commits, args.rate / fan, bounded=True
    )
    expected = expected_receipts(shape, committed)
    await wait_for(client, expected)
    used = [meter() - start for meter, start in zip(meters, began, strict=True)]
    drained = await client.ask("drain")
    latencies, repeats, misdirected = match(drained["receipts"], committed, shape)
    deliveries = max(len(drained["receipts"]), 1)
    return Phase(
        offered=args.rate,
        achieved=commit_rate * fan,
        commits=len(committed),
        batch=committer.batch,
        expected=expected,
        received=len(latencies),
        repeats=repeats,
        wrong=drained["wrong"] + misdirected,
        latencies_ms=latencies,
        cpu_us=used[0] / deliveries * 1e6,
        postgres_us=used[1] / deliveries * 1e6,
        client_share=used[2] / used[3],
    )


async def soak(client: Client, committer: Committer, shape: Shape, rate: float, count: int) -> int:
    """More targeted deliveries at `rate`, about `count` of them; how many arrived."""
    fan = deliveries_per_commit(shape, committer)
    if count < fan:
        return 0
    committed, _ = await committer.stream(shape.generations, round(count / fan), rate / fan)
    await wait_for(client, expected_receipts(shape, committed))
    return len((await client.ask("drain"))["receipts"])


async def broadcast(client: Client, committer: Committer, shape: Shape) -> tuple[float, int]:
    """One commit changing every watched generation: ms until the last receipt; how many of
    the subscribers did not get it."""
    event, at = await committer.broadcast(shape.generations)
    await wait_for(client, len(shape.watch), timeout=60)
    receipts = (await client.ask("drain"))["receipts"]
    times = {index: t for index, k, t in receipts if k == event}
    last = (max(times.values()) - at) * 1000 if times else float("nan")
    return last, len(shape.watch) - len(times)


async def measure(
    kind: str, pg: Postgres, dsn: str, shape: Shape, committer: Committer, args: Any
) -> Result:
    async with launch(kind, dsn, pg.home) as server, client_for(server, shape, args.parallel) as c:
        rss = {"idle": server.rss_kib()}
        client_cpu = c.cpu_seconds()
        connected = await c.ask("connect")
        client_cpu = c.cpu_seconds() - client_cpu
        rss["connected"] = server.rss_kib()
        foreign = shape.foreign()
        probe = await c.ask(f"probe {global_id(str(foreign))}") if foreign else None
        await c.ask("drain")
        phase = await targeted(server, pg, c, committer, shape, args)
        rss["targeted"] = server.rss_kib()
        soaked = await soak(c, committer, shape, args.rate, args.soak - phase.received)
        rss["soaked"] = server.rss_kib()
        broadcasts = [await broadcast(c, committer, shape) for _ in range(args.broadcasts)]
        closed = (await c.ask("drain"))["closed"]
    return Result(
        server=kind,
        shape=shape.name,
        subscribers=len(shape.watch),
        parallel=args.parallel,
        connect_seconds=connected["seconds"],
        connect_client_share=client_cpu / connected["seconds"],
        setups_ms=[s * 1000 for s in connected["setups"]],
        rss_kib=rss,
        targeted=phase,
        deliveries=phase.received + soaked,
        broadcast_ms=[ms for ms, _ in broadcasts],
        broadcast_missing=sum(missing for _, missing in broadcasts),
        probe_leaked=probe["leaked"] if probe else None,
        closed_by_server=closed,
    )


async def run(args: Any) -> list[Result]:
    results: list[Result] = []
    with temporary_postgres() as pg:
        for index, name in enumerate(args.shapes):
            dsn = await migrated_database(pg.admin_dsn, f"velro_fanout_{name}")
            shape = await seed(dsn, name, args.subscribers, args.users, args.generations)
            committer = Committer(dsn, batch=args.batch if name == "realistic" else 1)
            await committer.open()
            try:
                order = ("ours", "floor") if index % 2 == 0 else ("floor", "ours")
                for kind in order:
                    results.append(await measure(kind, pg, dsn, shape, committer, args))
                    print(describe(results[-1]), flush=True)
            finally:
                await committer.close()
            by_server = {r.server: r for r in results if r.shape == name}
            print(compare(by_server["ours"], by_server["floor"]), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--shapes", nargs="+", default=["shared", "realistic"])
    parser.add_argument("--users", type=int, default=100, help="of the realistic shape")
    parser.add_argument("--generations", type=int, default=10, help="of the shared shape")
    parser.add_argument("--rate", type=float, default=2000, help="targeted deliveries a second")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--soak", type=int, default=100_000, help="deliveries before RSS")
    parser.add_argument("--broadcasts", type=int, default=5)
    parser.add_argument(
        "--batch", type=int, default=1, help="realistic shape: generations changed per commit"
    )
    parser.add_argument("--parallel", type=int, default=200, help="connections opening at once")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the servers inherit it
    print(f"subscription fan-out, ours and the bare floor; {machine()}", flush=True)
    results = uvloop.run(run(args))
    if args.json:
        args.json.write_text(json.dumps([dataclasses.asdict(r) for r in results]))


if __name__ == "__main__":
    main()
