"""A connection's unsent messages, written in order by one short-lived task at a time.

A message put under a key replaces an unsent one with the same key: a subscription's newer
state supersedes its older one, so a slow client holds at most its latest states and never
delays anyone else. Past `limit` unsent messages the connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Hashable

from starlette.websockets import WebSocket, WebSocketDisconnect

TRY_AGAIN_LATER = 1013


class Outbox:
    __slots__ = ("_close", "_frames", "_limit", "_task", "_websocket", "closing")

    def __init__(self, websocket: WebSocket, *, limit: int) -> None:
        self._websocket = websocket
        self._limit = limit
        self._frames: dict[Hashable, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._close: tuple[int, str] | None = None
        self.closing = False

    def put(self, key: Hashable, frame: str) -> None:
        """Queue a message, replacing an unsent one with the same key."""
        if self.closing:
            return
        self._frames[key] = frame
        if len(self._frames) > self._limit:
            self._frames.clear()
            self.close(TRY_AGAIN_LATER, "Too many unsent messages.")
        elif self._task is None:
            self._task = asyncio.create_task(self._drain())

    def send(self, frame: str) -> None:
        """Queue a message that nothing replaces (acknowledgements, errors, completions)."""
        self.put(object(), frame)

    def discard(self, owner: object) -> None:
        """Drop the unsent messages put under `(owner, ...)` keys."""
        for key in [k for k in self._frames if isinstance(k, tuple) and k[0] is owner]:
            del self._frames[key]

    def close(self, code: int, reason: str = "") -> None:
        """Send what is queued, then close the connection; queue nothing more."""
        if self.closing:
            return
        self.closing = True
        self._close = (code, reason)
        if self._task is None:
            self._task = asyncio.create_task(self._drain())

    async def stop(self) -> None:
        """The connection is gone: drop what was not sent."""
        self.closing = True
        self._frames.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _drain(self) -> None:
        try:
            while self._frames:
                key = next(iter(self._frames))
                await self._websocket.send_text(self._frames.pop(key))
            if self._close is not None:
                await self._websocket.close(*self._close)
        except (OSError, RuntimeError, WebSocketDisconnect):
            self._frames.clear()  # the client is gone; its receive loop ends the connection
        finally:
            self._task = None
