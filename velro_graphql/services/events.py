"""Live updates: one LISTEN connection per process, announcing committed changes to listeners.

Notifications carry ids only; listeners re-read current state. When the connection drops,
every listener gets a `resync` event for all users (changes may have been missed) and the hub
reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from velro_graphql.db.listen import open_listener

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # "generation", "balance" or "resync"
    id: UUID | None = None
    project_id: UUID | None = None


RESYNC = Event("resync")

# Called with the user whose objects changed, or None for every user (a resync).
Listener = Callable[[UUID | None, Event], None]


class EventHub:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._listeners: list[Listener] = []
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

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def _dispatch(self, payload: str) -> None:
        try:
            data = json.loads(payload)
            user_id = UUID(data["user_id"])
            event = Event(data["kind"], UUID(data["id"]), _uuid(data.get("project_id")))
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring malformed notification")
            return
        self._announce(user_id, event)

    def _announce(self, user_id: UUID | None, event: Event) -> None:
        for listener in self._listeners:
            try:
                listener(user_id, event)
            except Exception:
                # One listener's bug must not cost the others their events.
                log.exception("event listener failed")

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
            self._announce(None, RESYNC)


def _uuid(value: object) -> UUID | None:
    return UUID(str(value)) if value else None
