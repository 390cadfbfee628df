"""The fan-out benchmark's client: many graphql-transport-ws subscribers in one lean process.

Run by `bench/subscription_fanout.py` as a child process, so that its CPU is not the
committer's: it reads a plan (one JSON line: the WebSocket URL, the bearer tokens, and per
subscriber the token and generation it watches) on stdin, then one command a line, and answers
each with one JSON line on stdout:

- `connect`: open every subscriber (`parallel` at a time: handshake, connection_init, ack,
  subscribe, first `next`); answers the seconds it took and each connection's set-up time;
- `count`: how many deliveries arrived since the last `drain`;
- `drain`: those deliveries as [subscriber, event, receipt time] and forgets them, with the
  number of wrong messages (another generation's, or an error) and of connections the server
  has closed so far;
- `probe`: subscribes with the first token to `foreign` (a generation of another user) and
  answers whether any data for it arrived within a second (it must not);
- `close`.

Receipt times are CLOCK_MONOTONIC, the committer's clock too. Raw `websockets` with
compression and pings off, orjson, uvloop: the client must not be what is measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import sys
import time
from typing import Any

import orjson
import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

WATCH = (
    "subscription Watch($id: ID!) { generationUpdated(id: $id) { id status progress"
    " queuePosition } }"
)


def now() -> float:
    return time.clock_gettime(time.CLOCK_MONOTONIC)


class Fleet:
    """Every subscriber of the plan and what they received."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.url: str = plan["url"]
        self.tokens: list[str] = plan["tokens"]
        self.watch: list[tuple[int, str]] = [tuple(w) for w in plan["watch"]]
        self.parallel: int = plan["parallel"]
        self.sockets: list[ClientConnection] = []
        self.listeners: list[asyncio.Task[None]] = []
        self.receipts: list[tuple[int, int, float]] = []
        self.wrong = 0
        self.closed = 0  # connections the server closed

    async def open(self, token: int, gid: str) -> ClientConnection:
        ws = await connect(
            self.url,
            subprotocols=[Subprotocol("graphql-transport-ws")],
            compression=None,
            ping_interval=None,
            max_size=None,
            open_timeout=300,
            close_timeout=1,
        )
        auth = {"Authorization": f"Bearer {self.tokens[token]}"}
        await ws.send(orjson.dumps({"type": "connection_init", "payload": auth}).decode())
        assert orjson.loads(await ws.recv())["type"] == "connection_ack"
        payload = {"query": WATCH, "variables": {"id": gid}}
        await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": payload}).decode())
        return ws

    async def connect(self) -> dict[str, Any]:
        gate = asyncio.Semaphore(self.parallel)

        async def one(index: int, token: int, gid: str) -> float:
            async with gate:
                began = now()
                ws = await self.open(token, gid)
                first = orjson.loads(await ws.recv())
                assert first["type"] == "next" and first["payload"].get("data"), first
                self.sockets[index] = ws
                return now() - began

        self.sockets = [None] * len(self.watch)  # type: ignore[list-item]
        began = now()
        setups = await asyncio.gather(*(one(i, t, g) for i, (t, g) in enumerate(self.watch)))
        seconds = now() - began
        self.listeners = [
            asyncio.create_task(self.listen(i, ws)) for i, ws in enumerate(self.sockets)
        ]
        return {"seconds": seconds, "setups": setups}

    async def listen(self, index: int, ws: ClientConnection) -> None:
        expected = self.watch[index][1]
        async for raw in ws:
            received = now()
            message = orjson.loads(raw)
            node = (message.get("payload") or {}).get("data", {}).get("generationUpdated")
            if message["type"] != "next" or not node or node["id"] != expected:
                self.wrong += 1
                continue
            self.receipts.append((index, node["queuePosition"], received))
        self.closed += 1

    async def probe(self, foreign: str) -> dict[str, Any]:
        """Whether data of another user's generation reaches this user's token (it must not):
        listens until the server ends the subscription, or for a second."""
        ws = await self.open(0, foreign)
        leaked = False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1):
                async for raw in ws:
                    message = orjson.loads(raw)
                    payload = message.get("payload")
                    data = payload.get("data") if isinstance(payload, dict) else None
                    leaked |= bool(data and data.get("generationUpdated"))
                    if message["type"] in ("error", "complete"):
                        break
        await ws.close()
        return {"leaked": leaked}

    def drain(self) -> dict[str, Any]:
        receipts, self.receipts = self.receipts, []
        wrong, self.wrong = self.wrong, 0
        return {"receipts": receipts, "wrong": wrong, "closed": self.closed}

    async def close(self) -> None:
        await asyncio.gather(*(ws.close() for ws in self.sockets if ws), return_exceptions=True)
        for listener in self.listeners:
            listener.cancel()
        await asyncio.gather(*self.listeners, return_exceptions=True)


async def serve_commands() -> None:
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader(limit=2**30)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    fleet = Fleet(orjson.loads(await stdin.readline()))
    while line := (await stdin.readline()).decode().split():
        command = line[0]
        if command == "connect":
            answer = await fleet.connect()
        elif command == "count":
            answer = {"count": len(fleet.receipts)}
        elif command == "drain":
            answer = fleet.drain()
        elif command == "probe":
            answer = await fleet.probe(line[1])
        else:
            await fleet.close()
            answer = {"closed": True}
        sys.stdout.buffer.write(orjson.dumps(answer) + b"\n")
        sys.stdout.buffer.flush()
        if command == "close":
            return


def main() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    uvloop.run(serve_commands())


if __name__ == "__main__":
    main()
