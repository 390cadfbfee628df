"""WebSocket /graphql: negotiate the protocol, then serve the connection through the fan-out."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from velro_graphql.api.live.connection import Connection
from velro_graphql.api.live.fanout import Fanout
from velro_graphql.api.live.protocol import SUBPROTOCOL_NOT_ACCEPTABLE, negotiate

PATHS = frozenset({"/graphql", "/graphql/"})


class LiveSockets:
    """Serve WebSockets on `PATHS` ahead of the HTTP middleware and router: their frames (none
    of which does anything for a WebSocket) would stay on every open connection's stack, a few
    KiB each, and wrap every message it sends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] in PATHS:
            await serve_websocket(WebSocket(scope, receive, send))
        else:
            await self.app(scope, receive, send)


async def serve_websocket(websocket: WebSocket) -> None:
    fanout: Fanout = websocket.app.state.fanout
    dialect = negotiate(websocket.scope.get("subprotocols", ()))
    await websocket.accept(subprotocol=dialect.name if dialect else None)
    if dialect is None:
        await websocket.close(SUBPROTOCOL_NOT_ACCEPTABLE, "Subprotocol not acceptable")
        return
    await Connection(websocket, dialect, fanout).serve()
