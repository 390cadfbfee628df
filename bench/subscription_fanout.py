"""Subscription fan-out: N WebSocket subscribers on one serve process, commit -> receipt.

One user owns G generations; N connections (graphql-transport-ws, raw `websockets`) each
subscribe to `generationUpdated` of one of them (N/G subscribers a generation). A separate
Postgres connection then commits `UPDATE generations SET progress = ...` at a steady rate (the
row trigger announces each commit), and every subscriber of that generation should receive
the new progress. Reports set-up time per connection, commit -> receipt latency, the server's
CPU per delivery and its RSS (VmRSS) before and after connecting.

    python bench/subscription_fanout.py [--subscribers 500 2000] [--generations 10]
                                        [--events 40] [--rate 5]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import time
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import websockets
from harness import (
    Postgres,
    Server,
    bearer,
    latency_summary,
    machine,
    migrated_database,
    serve,
    temporary_postgres,
)
from websockets.asyncio.client import ClientConnection

from velro_graphql.api.auth import local_user_id

EMAIL = "fanout@example.com"
SCALE = 10_000  # progress k / SCALE identifies event k
WATCH = "subscription Watch($id: ID!) { generationUpdated(id: $id) { id status progress } }"


class Subscriber:
    """One connection with one `generationUpdated` subscription; records each receipt."""

    def __init__(self, generation: UUID) -> None:
        self.generation = generation
        self.received: list[tuple[int, float]] = []  # (event, receipt time)
        self.ws: ClientConnection | None = None

    async def open(self, server: Server, headers: dict[str, str]) -> float:
        began = time.perf_counter()
        self.ws = await websockets.connect(
            server.ws_url, subprotocols=["graphql-transport-ws"], open_timeout=120, max_size=None
        )
        await self._send({"type": "connection_init", "payload": headers})
        assert json.loads(await self.ws.recv())["type"] == "connection_ack"
        gid = _global_id(self.generation)
        payload = {"query": WATCH, "variables": {"id": gid}}
        await self._send({"id": "1", "type": "subscribe", "payload": payload})
        first = json.loads(await self.ws.recv())
        assert first["type"] == "next" and "errors" not in first["payload"], first
        return time.perf_counter() - began

    async def listen(self) -> None:
        assert self.ws is not None
        async for raw in self.ws:
            message = json.loads(raw)
            if message["type"] == "next":
                progress = message["payload"]["data"]["generationUpdated"]["progress"]
                self.received.append((round(progress * SCALE), time.perf_counter()))

    async def _send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps(message))


def _global_id(generation: UUID) -> str:
    return base64.b64encode(f"Generation:{generation}".encode()).decode()


async def seed(server: Server, dsn: str, count: int) -> list[UUID]:
    """Provision the user through the API and give it `count` running generations."""
    async with httpx.AsyncClient(base_url=server.url, headers=bearer(EMAIL)) as client:
        (await client.post("/graphql", json={"query": "{ me { id } }"})).raise_for_status()
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "INSERT INTO generations (user_id, model_id, prompt, status, cost, provider,"
            " progress, deadline_at, started_at) SELECT $1, 'fal-ai/flux-pro', 'fan-out ' || n,"
            " 'IN_PROGRESS', 50, 'simulator', 0, now() + interval '1 day', now()"
            " FROM generate_series(1, $2) n RETURNING id",
            local_user_id(EMAIL),
            count,
        )
    finally:
        await conn.close()
    return [row["id"] for row in rows]


async def connect_all(
    server: Server, generations: list[UUID], count: int, parallel: int = 50
) -> tuple[list[Subscriber], list[float], float]:
    subscribers = [Subscriber(generations[n % len(generations)]) for n in range(count)]
    gate = asyncio.Semaphore(parallel)
    headers = bearer(EMAIL)

    async def open_one(subscriber: Subscriber) -> float:
        async with gate:
            return await subscriber.open(server, headers)

    began = time.perf_counter()
    setups = await asyncio.gather(*(open_one(s) for s in subscribers))
    return subscribers, list(setups), time.perf_counter() - began


async def commit_events(
    dsn: str, generations: list[UUID], events: int, rate: float
) -> dict[int, tuple[UUID, float]]:
    """Commit one progress update every 1/rate s; return each event's generation and time."""
    committed: dict[int, tuple[UUID, float]] = {}
    conn = await asyncpg.connect(dsn)
    try:
        for k in range(1, events + 1):
            generation = generations[k % len(generations)]
            committed[k] = (generation, time.perf_counter())
            await conn.execute(
                "UPDATE generations SET progress = $1 WHERE id = $2", k / SCALE, generation
            )
            await asyncio.sleep(1 / rate)
    finally:
        await conn.close()
    return committed


async def run(pg: Postgres, subscribers: int, generations: int, events: int, rate: float) -> None:
    dsn = await migrated_database(pg.admin_dsn, f"velro_fanout_{subscribers}")
    async with serve(dsn, pg.home) as server:
        ids = await seed(server, dsn, generations)
        rss_before = server.rss_kib()
        subs, setups, setup_seconds = await connect_all(server, ids, subscribers)
        rss_after = server.rss_kib()
        listeners = [asyncio.create_task(s.listen()) for s in subs]
        cpu, pg_cpu = server.cpu_seconds(), pg.cpu_seconds()
        began = time.perf_counter()
        committed = await commit_events(dsn, ids, events, rate)
        expected = events * subscribers // generations
        await _wait_received(subs, expected, timeout=60)
        elapsed = time.perf_counter() - began
        cpu, pg_cpu = server.cpu_seconds() - cpu, pg.cpu_seconds() - pg_cpu
        rss_end = server.rss_kib()
        await asyncio.gather(*(s.ws.close() for s in subs if s.ws), return_exceptions=True)
        for listener in listeners:
            listener.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
    latencies, repeats = _latencies(subs, committed)
    received = sum(len(s.received) for s in subs)
    print(
        f"{subscribers} subscribers ({subscribers // generations} a generation), {events} events "
        f"at {rate:g}/s = {rate * subscribers / generations:.0f} deliveries/s offered"
    )
    print(
        f"  set-up: {setup_seconds:.1f} s for all ({subscribers / setup_seconds:.0f}/s, 50 at a "
        f"time); per connection {latency_summary(setups)}"
    )
    print(
        f"  RSS: {rss_before / 1024:.0f} MiB before, {rss_after / 1024:.0f} MiB connected "
        f"({(rss_after - rss_before) / subscribers:.0f} KiB a subscriber), "
        f"{rss_end / 1024:.0f} MiB after the events"
    )
    print(
        f"  {len(latencies)} of {expected} expected deliveries arrived "
        f"({expected - len(latencies)} coalesced into a later state, {repeats} repeats) "
        f"in {elapsed:.1f} s; commit -> receipt {latency_summary(latencies)}"
    )
    print(
        f"  CPU per delivery: server {cpu / max(received, 1) * 1e6:.0f} us, "
        f"Postgres {pg_cpu / max(received, 1) * 1e6:.0f} us"
    )


async def _wait_received(subs: list[Subscriber], expected: int, timeout: float) -> None:
    """Until every expected delivery arrived, or nothing arrived for 3 s, or `timeout`."""
    deadline = time.perf_counter() + timeout
    last_count, last_change = -1, time.perf_counter()
    while time.perf_counter() < deadline and time.perf_counter() - last_change < 3:
        count = sum(len(s.received) for s in subs)
        if sum(len({event for event, _ in s.received}) for s in subs) >= expected:
            return
        if count != last_count:
            last_count, last_change = count, time.perf_counter()
        await asyncio.sleep(0.1)


def _latencies(
    subs: list[Subscriber], committed: dict[int, tuple[UUID, float]]
) -> tuple[list[float], int]:
    """Latency of each event's first receipt by each of its subscribers; and how many were
    repeats (a subscriber re-reading after a burst can send the same state twice)."""
    latencies: list[float] = []
    repeats = 0
    for subscriber in subs:
        seen: set[int] = set()
        for event, received_at in subscriber.received:
            generation, at = committed[event]
            assert generation == subscriber.generation, "a subscriber got another's generation"
            if event in seen:
                repeats += 1
                continue
            seen.add(event)
            latencies.append(received_at - at)
    return latencies, repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--generations", type=int, default=10)
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--rate", type=float, default=5, help="committed updates a second")
    args = parser.parse_args()
    print(f"subscription fan-out; {machine()}")
    with temporary_postgres() as pg:
        for count in args.subscribers:
            asyncio.run(run(pg, count, args.generations, args.events, args.rate))


if __name__ == "__main__":
    main()
