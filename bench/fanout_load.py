"""The fan-out benchmark's data and load: the two shapes of subscribers, and the committer.

`shared`: one user, G generations, N subscribers spread over them (N/G watch each).
`realistic`: U users, each subscriber watching a generation of its own user that nobody else
watches (N generations). The committer commits `UPDATE generations SET queue_position = k`
for event k (`progress` would not do: the API rounds it to 3 decimals); the row trigger
announces each commit on the channel both servers LISTEN to. It commits at a steady rate over
several connections, so that it keeps up, and stamps each event with its CLOCK_MONOTONIC time
just before sending it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg
from fanout_client import now

from velro_graphql.api.auth import local_user_id
from velro_graphql.db import profiles
from velro_graphql.db.pool import create_pool
from velro_graphql.services.catalog_store import seed_catalog

UPDATE = "UPDATE generations SET queue_position = $1 WHERE id = ANY($2::uuid[])"
INSERT = (
    "INSERT INTO generations (user_id, model_id, prompt, status, cost, provider, queue_position,"
    " deadline_at) SELECT owner, 'fal-ai/flux-pro', 'fan-out', 'QUEUED', 50, 'simulator', 0,"
    " now() + interval '1 day' FROM unnest($1::uuid[]) AS owner"
    " RETURNING id"
)


# Per event: the generations its commit changed, and when it was sent.
Committed = tuple[dict[int, tuple[list[UUID], float]], float]


@dataclass(frozen=True)
class Shape:
    name: str
    emails: list[str]
    watch: list[tuple[int, UUID]]  # per subscriber: its user's index, the generation it watches
    watchers: Counter[UUID] = field(default_factory=Counter)

    @property
    def generations(self) -> list[UUID]:
        return list(self.watchers)

    def foreign(self) -> UUID | None:
        """A generation that the first subscriber's user does not own (None: one user)."""
        owner = self.watch[0][0]
        return next((g for user, g in self.watch if user != owner), None)


async def seed(dsn: str, name: str, subscribers: int, users: int, generations: int) -> Shape:
    """Create the users and generations of shape `name` and say who watches what."""
    if name == "shared":
        emails = ["fanout-shared@example.com"]
        owners = [0] * min(generations, subscribers)
    else:
        emails = [f"fanout-{n}@example.com" for n in range(min(users, subscribers))]
        owners = [n % len(emails) for n in range(subscribers)]
    pool = await create_pool(dsn, size=1)
    try:
        await seed_catalog(pool)  # as a server's start-up would: generations name a model
    finally:
        await pool.close()
    conn = await asyncpg.connect(dsn)
    try:
        for email in emails:
            await profiles.insert_auth_user(conn, local_user_id(email), email)
            await profiles.insert_if_absent(conn, local_user_id(email), email)
        user_ids = [local_user_id(emails[owner]) for owner in owners]
        ids = [row["id"] for row in await conn.fetch(INSERT, user_ids)]
    finally:
        await conn.close()
    watch = [(owners[n % len(ids)], ids[n % len(ids)]) for n in range(subscribers)]
    return Shape(name, emails, watch, Counter(g for _, g in watch))


@dataclass
class Committer:
    """Commits numbered events, each changing `batch` generations in one transaction; event
    numbers keep growing across phases and servers. `synchronous_commit` is off for its
    sessions: the servers are measured, not the disk (notifications still go out at commit)."""

    dsn: str
    batch: int = 1
    connections: int = 8
    next_event: int = 1
    conns: list[asyncpg.Connection] = field(default_factory=list)

    async def open(self) -> None:
        self.conns = [await asyncpg.connect(self.dsn) for _ in range(self.connections)]
        for conn in self.conns:
            await conn.execute("SET synchronous_commit = off")

    async def close(self) -> None:
        await asyncio.gather(*(conn.close() for conn in self.conns))

    async def stream(
        self, targets: list[UUID], count: int, rate: float, *, bounded: bool = False
    ) -> Committed:
        """Commit `count` events at `rate` a second, cycling over `targets` (`bounded`: stop
        when the planned time is over, however many were committed); return each event's
        generations and commit time, and the commit rate achieved."""
        first, self.next_event = self.next_event, self.next_event + count
        committed: dict[int, tuple[list[UUID], float]] = {}
        schedule = iter(range(count))
        began = now()

        async def work(conn: asyncpg.Connection) -> None:
            for n in schedule:
                if bounded and now() - began > count / rate:
                    return
                if (delay := began + n / rate - now()) > 0:
                    await asyncio.sleep(delay)
                batch = [targets[(n * self.batch + j) % len(targets)] for j in range(self.batch)]
                committed[first + n] = (batch, now())
                await conn.execute(UPDATE, first + n, batch)

        await asyncio.gather(*(work(conn) for conn in self.conns))
        return committed, len(committed) / (now() - began)

    async def broadcast(self, targets: list[UUID]) -> tuple[int, float]:
        """One commit that changes every target; its event number and commit time."""
        event, self.next_event = self.next_event, self.next_event + 1
        at = now()
        await self.conns[0].execute(UPDATE, event, targets)
        return event, at
