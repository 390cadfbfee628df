"""Live updates: one LISTEN connection per process, fanned out to this process's subscribers.

Notifications carry ids only; subscribers re-read current state. When the connection drops,
every subscriber gets a `resync` event (changes may have been missed) and the hub reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from velro_graphql.db.listen import open_listener

log = logging.getLogger(__name__)

_QUEUE_LIMIT = 256


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # "generation", "balance" or "resync"
    id: UUID | None = None
    project_id: UUID | None = None


RESYNC = Event("resync")


class EventHub:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._queues: dict[UUID, set[asyncio.Queue[Event]]] = defaultdict(set)
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._connect()
        self._task = asyncio.create_task(self._keep_connected())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn and not self._conn.is_closed():
            await self._conn.close()

    @contextlib.asynccontextmanager
    async def subscribe(self, user_id: UUID) -> AsyncIterator[asyncio.Queue[Event]]:
        """Receive the events of one user's objects while the block runs."""
        queue: asyncio.Queue[Event] = asyncio.Queue(_QUEUE_LIMIT)
        self._queues[user_id].add(queue)
        try:
            yield queue
        finally:
            self._queues[user_id].discard(queue)
            if not self._queues[user_id]:
                del self._queues[user_id]

    @property
    def subscriber_count(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def _dispatch(self, payload: str) -> None:
        try:
            data = json.loads(payload)
            user_id = UUID(data["user_id"])
            event = Event(data["kind"], UUID(data["id"]), _uuid(data.get("project_id")))
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring malformed notification")
            return
        for queue in self._queues.get(user_id, ()):
            _offer(queue, event)

    def _on_lost(self) -> None:
        self._lost.set()

    async def _connect(self) -> None:
        self._lost.clear()
        self._conn = await open_listener(self._dsn, self._dispatch, self._on_lost)

    async def _keep_connected(self) -> None:
        delay = 0.5
        while True:
            await self._lost.wait()
            log.warning("event listener lost its connection; reconnecting")
            try:
                await self._connect()
            except (OSError, asyncpg.PostgresError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
                continue
            delay = 0.5
            for queues in list(self._queues.values()):
                for queue in queues:
                    _offer(queue, RESYNC)


def _offer(queue: asyncio.Queue[Event], event: Event) -> None:
    # A subscriber that cannot keep up gets a resync instead of an unbounded backlog.
    if queue.full():
        while not queue.empty():
            queue.get_nowait()
        event = RESYNC
    queue.put_nowait(event)


def _uuid(value: object) -> UUID | None:
    return UUID(str(value)) if value else None
