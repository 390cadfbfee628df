"""A connection's unsent messages, written in order by one short-lived task at a time.

A message put under a key replaces an unsent one with the same key: a subscription's newer
state supersedes its older one, so a slow client holds at most its latest states and never
delays anyone else. The connection is closed, with 1013 (try again later), past `limit` unsent
messages or when it has been sending without catching up for `max_behind` seconds: a client that
does not read must not hold the server's memory, and graphql-ws clients reconnect on 1013 and
get the current state again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Hashable

from starlette.websockets import WebSocket, WebSocketDisconnect

TRY_AGAIN_LATER = 1013


class Outbox:
    __slots__ = (
        "_behind",
        "_close",
        "_draining_since",
        "_frames",
        "_limit",
        "_max_behind",
        "_task",
        "_websocket",
        "closing",
    )

    def __init__(self, websocket: WebSocket, *, limit: int, max_behind: float) -> None:
        self._websocket = websocket
        self._limit = limit
        self._max_behind = max_behind
        self._behind: asyncio.TimerHandle | None = None
        self._draining_since = 0.0
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
            self._start_drain()

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
        self._close = (code, _close_reason(reason))
        if self._task is None:
            self._start_drain()

    async def stop(self) -> None:
        """The connection is gone: drop what was not sent."""
        self.closing = True
        self._frames.clear()
        if self._behind is not None:
            self._behind.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _start_drain(self) -> None:
        self._task = asyncio.create_task(self._drain())
        loop = asyncio.get_running_loop()
        self._draining_since = loop.time()
        # One timer lives across drains (each message would otherwise make and cancel one).
        if self._behind is None:
            self._behind = loop.call_later(self._max_behind, self._check_behind)

    def _check_behind(self) -> None:
        self._behind = None
        if self._task is None:
            return  # caught up
        loop = asyncio.get_running_loop()
        draining = loop.time() - self._draining_since
        if draining < self._max_behind:
            self._behind = loop.call_later(self._max_behind - draining, self._check_behind)
        else:
            self._fell_behind()

    def _fell_behind(self) -> None:
        """Sending has not caught up for `max_behind` seconds: give up on this client."""
        stuck = self._task
        self.closing = True
        self._frames.clear()
        self._close = (TRY_AGAIN_LATER, "Too slow reading its messages.")
        self._task = asyncio.create_task(self._abort())
        if stuck is not None:
            stuck.cancel()

    async def _abort(self) -> None:
        # The client is not reading, so even the close frame may never leave: bound the wait.
        with contextlib.suppress(OSError, RuntimeError, WebSocketDisconnect, TimeoutError):
            await asyncio.wait_for(self._websocket.close(*(self._close or (1000, ""))), 5)

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
            if self._task is asyncio.current_task():
                self._task = None


def _close_reason(reason: str) -> str:
    """At most the 123 UTF-8 bytes a close frame holds, and no lone surrogate (which a client
    can put in a message type that a reason then quotes): either would fail the close itself."""
    encoded = reason.encode("utf-8", "replace")[:123]
    return encoded.decode("utf-8", "ignore")
