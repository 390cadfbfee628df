"""The whole app served by uvicorn in the test's event loop, and a raw WebSocket client for it."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
import websockets
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection

from tests.factories import make_token
from velro_graphql.api.app import create_app
from velro_graphql.config import Settings

TRANSPORT_WS = "graphql-transport-ws"
GRAPHQL_WS = "graphql-ws"


@dataclass
class LiveServer:
    app: FastAPI
    url: str

    async def connect(self, protocol: str = TRANSPORT_WS) -> ClientConnection:
        return await websockets.connect(self.url, subprotocols=[protocol])  # type: ignore[list-item]

    async def signed_in(self, email: str, protocol: str = TRANSPORT_WS) -> ClientConnection:
        """A connection past connection_init, as `email`."""
        ws = await self.connect(protocol)
        await send(ws, "connection_init", payload={"Authorization": f"Bearer {make_token(email)}"})
        assert (await receive(ws))["type"] == "connection_ack"
        return ws


@asynccontextmanager
async def live_server(
    settings: Settings, *, ws_max_size: int = 16 * 1024 * 1024
) -> AsyncIterator[LiveServer]:
    """Serve `create_app(settings)` on a free port of 127.0.0.1 until the block ends (with
    uvicorn's own message bound unless `ws_max_size` says otherwise, as `serve` does)."""
    app = create_app(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=1,
        ws_max_size=ws_max_size,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not serving.done(), "the app did not start"
            await asyncio.sleep(0.01)
        yield LiveServer(app, f"ws://127.0.0.1:{sock.getsockname()[1]}/graphql")
    finally:
        server.should_exit = True
        await serving
        sock.close()


async def send(ws: ClientConnection, type_: str, **fields: Any) -> None:
    await ws.send(json.dumps({"type": type_, **fields}))


async def receive(ws: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return message


async def closed_with(ws: ClientConnection, timeout: float = 5) -> int | None:
    """The close code the server sent, once it closed the connection."""
    await asyncio.wait_for(ws.wait_closed(), timeout)
    return ws.close_code
