"""The floor of the fan-out benchmark: a bare WebSocket broadcast server, no GraphQL.

It speaks just enough graphql-transport-ws for `bench/fanout_client.py` (connection_init with a
bearer token -> connection_ack; subscribe to `generationUpdated(id)` -> one `next` with the
current state, then a `next` for every change of that generation; complete; ping) and is fed
by the same trigger and LISTEN channel as `velro-graphql serve`: each notification carries ids
only, so it reads the changed rows (one statement for all ids pending at that moment, on a
service connection: no row-level security, no caller role) and sends every watcher the bytes
encoded once, in one plain loop (with a task per connection, as ours has, it used 71 against
47 us of CPU per delivery, two runs of 10,000 on the shared machine). A raw ASGI app under
uvicorn with the same settings as `serve` (uvloop, httptools, uvicorn's default WebSocket
implementation, frozen start-up objects).

    DATABASE_URL=... SUPABASE_JWT_SECRET=... python bench/bare_ws.py --port 8001
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import os
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import jwt
import orjson
import uvicorn

from velro_graphql.db.listen import CHANNEL

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]
READ = (
    "SELECT id::text, user_id::text, status, progress, queue_position"
    " FROM generations WHERE id = ANY($1::uuid[])"
)


class Hub:
    """Who watches which generation; reads and sends each announced change."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.watchers: dict[str, set[tuple[Connection, str]]] = {}
        self.pending: set[str] = set()
        self.flushing: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.pool = await asyncpg.create_pool(self.dsn, min_size=2, max_size=4)
        self.listener = await asyncpg.connect(self.dsn)
        await self.listener.add_listener(CHANNEL, self._notified)

    async def read(self, ids: list[str]) -> list[asyncpg.Record]:
        return await self.pool.fetch(READ, ids)

    def watch(self, generation: str, watcher: tuple[Connection, str]) -> None:
        self.watchers.setdefault(generation, set()).add(watcher)

    def unwatch(self, generation: str, watcher: tuple[Connection, str]) -> None:
        watching = self.watchers.get(generation, set())
        watching.discard(watcher)
        if not watching:
            self.watchers.pop(generation, None)

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        event = orjson.loads(payload)
        if event.get("kind") == "generation" and event["id"] in self.watchers:
            self.pending.add(event["id"])
            if self.flushing is None:
                self.flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        try:
            while self.pending:
                ids, self.pending = list(self.pending), set()
                await self._deliver(await self.read(ids))
        finally:
            self.flushing = None

    async def _deliver(self, rows: list[asyncpg.Record]) -> None:
        """Send each row to its watchers, the bytes built once per (row, subscription id), one
        send after the other: the plain broadcast loop, with no task per connection."""
        for row in rows:
            encoded: dict[str, str] = {}
            for connection, op_id in list(self.watchers.get(row["id"], ())):
                if op_id not in encoded:
                    encoded[op_id] = next_message(op_id, row)
                await connection.send_text(encoded[op_id])


def global_id(generation: str) -> str:
    return base64.b64encode(f"Generation:{generation}".encode()).decode()


def generation_of(gid: str) -> str | None:
    with contextlib.suppress(ValueError):
        kind, _, raw = base64.b64decode(gid).decode().partition(":")
        return raw if kind == "Generation" else None
    return None


def next_message(op_id: str, row: asyncpg.Record) -> str:
    node = {
        "id": global_id(row["id"]),
        "status": row["status"],
        "progress": row["progress"],
        "queuePosition": row["queue_position"],
    }
    payload = {"data": {"generationUpdated": node}}
    return orjson.dumps({"id": op_id, "type": "next", "payload": payload}).decode()


class Connection:
    """One client: authenticated at connection_init, then any number of subscriptions."""

    def __init__(self, hub: Hub, secret: str, send: Send) -> None:
        self.hub, self.secret, self.send = hub, secret, send
        self.user: str | None = None
        self.subscriptions: dict[str, str] = {}  # op id -> generation id

    async def serve(self, receive: Receive) -> None:
        await receive()  # websocket.connect
        await self.send({"type": "websocket.accept", "subprotocol": "graphql-transport-ws"})
        try:
            while (message := await receive())["type"] == "websocket.receive":
                await self.handle(orjson.loads(message.get("text") or message["bytes"]))
        finally:
            for op_id, generation in self.subscriptions.items():
                self.hub.unwatch(generation, (self, op_id))

    async def handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "connection_init":
            await self.authenticate(message.get("payload") or {})
        elif kind == "subscribe" and self.user is not None:
            await self.subscribe(message["id"], message["payload"].get("variables") or {})
        elif kind == "complete" and message.get("id") in self.subscriptions:
            self.hub.unwatch(self.subscriptions.pop(message["id"]), (self, message["id"]))
        elif kind == "ping":
            await self.send_text('{"type":"pong"}')
        else:
            await self.send({"type": "websocket.close", "code": 4400})

    async def authenticate(self, payload: dict[str, Any]) -> None:
        bearer = str(payload.get("Authorization", "")).removeprefix("Bearer ")
        try:
            claims = jwt.decode(bearer, self.secret, ["HS256"], audience="authenticated")
        except jwt.InvalidTokenError:
            await self.send({"type": "websocket.close", "code": 4403})
            return
        self.user = claims["sub"]
        await self.send_text('{"type":"connection_ack"}')

    async def subscribe(self, op_id: str, variables: dict[str, Any]) -> None:
        generation = generation_of(str(variables.get("id", "")))
        rows = await self.hub.read([generation]) if generation else []
        if not rows or rows[0]["user_id"] != self.user:
            error = [{"message": "Not found", "extensions": {"code": "NOT_FOUND"}}]
            await self.send_text(orjson.dumps({"id": op_id, "type": "error", "payload": error}))
            return
        self.subscriptions[op_id] = rows[0]["id"]
        self.hub.watch(rows[0]["id"], (self, op_id))
        await self.send_text(next_message(op_id, rows[0]))

    async def send_text(self, text: str | bytes) -> None:
        if isinstance(text, bytes):
            text = text.decode()
        # A client gone between the change and its delivery just misses it.
        with contextlib.suppress(OSError, RuntimeError):
            await self.send({"type": "websocket.send", "text": text})


class Floor:
    """The ASGI app: lifespan starts the hub, `GET` answers 200, WebSockets are served."""

    def __init__(self, dsn: str, secret: str) -> None:
        self.hub, self.secret = Hub(dsn), secret

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await Connection(self.hub, self.secret, send).serve(receive)
        elif scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        await self.hub.start()
        gc.freeze()  # as `serve` does after start-up
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = Floor(os.environ["DATABASE_URL"], os.environ["SUPABASE_JWT_SECRET"])
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=args.port,
        log_config=None,
        access_log=False,
        ws_max_size=100_000,
        lifespan="on",
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
