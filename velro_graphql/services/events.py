"""Live updates: one LISTEN connection per process, announcing committed changes to listeners.

A generation's notification carries the row's state when it fits (migration 0012), so a
listener can skip re-reading it; the others carry ids and listeners re-read. When the
connection drops, the hub reconnects with capped, jittered backoff for as long as it takes; once
LISTENing again it announces a `resync` for all users, saying from which instant changes may
have been missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from velro_graphql.backoff import backoff_delay
from velro_graphql.db.listen import ListenConnection, answers, open_listener
from velro_graphql.services.readiness import State

log = logging.getLogger(__name__)

# A transaction stamps `updated_at` when it begins, not when it commits, and the database's
# clock is not ours: a resync re-reads from a little before the connection was lost.
RESYNC_MARGIN = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # "generation", "balance", "catalog" or "resync"
    id: UUID | None = None
    project_id: UUID | None = None
    since: datetime | None = None  # resync: changes from this instant on may have been missed
    # The changed row's columns as JSON values, as committed (none for a deletion, or a row
    # too large for a notification): `version` orders them.
    state: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ListenerState:
    """Whether the hub is LISTENing, since when, and (when not) why."""

    connected: bool
    since: datetime
    reason: str | None = None


@dataclass(frozen=True)
class ListenerReadiness:
    """The hub's LISTEN connection as /ready reads it: live updates stop while it is down."""

    hub: EventHub
    name: str = "listener"
    blocking: bool = True

    @property
    def state(self) -> State:
        return "up" if self.hub.connected else "down"

    @property
    def reason(self) -> str | None:
        state = self.hub.state
        if state.connected:
            return None
        return f"the LISTEN connection is down since {state.since.isoformat()}: {state.reason}"


# Called with the user whose objects changed, or None for every user (a resync).
Listener = Callable[[UUID | None, Event], None]


class EventHub:
    def __init__(
        self,
        dsn: str,
        *,
        probe_seconds: float = 15.0,
        retry_cap: float = 30.0,
        on_reconnect: Callable[[], None] | None = None,
    ) -> None:
        self._dsn = dsn
        self._on_reconnect = on_reconnect
        self._probe_seconds = probe_seconds
        self._retry_cap = retry_cap
        self._listeners: list[Listener] = []
        self._conn: ListenConnection | None = None
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.state = ListenerState(False, _now(), "not started")

    @property
    def connected(self) -> bool:
        return self.state.connected

    @property
    def pid(self) -> int | None:
        """The LISTEN connection's backend process id, while connected."""
        return self._conn.get_server_pid() if self.connected and self._conn else None

    async def start(self) -> None:
        await self._connect()
        self._task = asyncio.create_task(self._keep_connected())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        conn, self._conn = self._conn, None  # its end is no loss to report
        if conn and not conn.is_closed():
            await conn.close()

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def _dispatch(self, payload: str) -> None:
        try:
            data = json.loads(payload)
            if data["kind"] == "catalog":  # everyone's: the catalog changed
                self._announce(None, Event("catalog"))
                return
            user_id = UUID(data["user_id"])
            state = data.get("state")
            event = Event(
                data["kind"],
                UUID(data["id"]),
                _uuid(data.get("project_id")),
                state=state if isinstance(state, dict) else None,
            )
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

    def _on_closed(self, conn: ListenConnection) -> None:
        if conn is self._conn:  # not an old connection's end, reported late
            self._on_lost("connection closed")

    def _on_lost(self, reason: str) -> None:
        if self.state.connected:
            self.state = ListenerState(False, _now(), reason)
            log.warning("event listener lost its connection (%s); reconnecting", reason)
        self._lost.set()

    async def _connect(self) -> None:
        conn = await open_listener(self._dsn, self._dispatch, self._on_closed)
        self._conn = conn
        self.state = ListenerState(True, _now())

    async def _keep_connected(self) -> None:
        while True:
            await self._watch()
            lost_at = self.state.since
            await self._reconnect()
            log.info("event listener reconnected; resyncing changes since %s", lost_at)
            if self._on_reconnect:
                self._on_reconnect()
            self._announce(None, Event("resync", since=lost_at - RESYNC_MARGIN))

    async def _watch(self) -> None:
        """Return once the connection is lost, probing it now and then."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), self._probe_seconds)
                self._lost.clear()
                return
            if self._conn and not await answers(self._conn, timeout=self._probe_seconds):
                self._on_lost("no answer to a probe")

    async def _reconnect(self) -> None:
        if self._conn:
            self._conn.terminate()
            self._conn = None
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._connect()
            except Exception as error:  # whatever the cause, the hub must keep trying
                log.debug("event listener reconnect %d failed: %r", attempt, error)
                self.state = ListenerState(False, self.state.since, repr(error)[:200])
                await asyncio.sleep(backoff_delay(attempt, first=0.5, cap=self._retry_cap))
                continue
            return


def _now() -> datetime:
    return datetime.now(UTC)


def _uuid(value: object) -> UUID | None:
    return UUID(str(value)) if value else None
