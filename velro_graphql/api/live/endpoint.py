"""WebSocket /graphql: negotiate the protocol, then serve the connection through the fan-out."""

from __future__ import annotations

from starlette.websockets import WebSocket

from velro_graphql.api.live.connection import Connection
from velro_graphql.api.live.fanout import Fanout
from velro_graphql.api.live.protocol import SUBPROTOCOL_NOT_ACCEPTABLE, negotiate


async def serve_websocket(websocket: WebSocket) -> None:
    fanout: Fanout = websocket.app.state.fanout
    dialect = negotiate(websocket.scope.get("subprotocols", ()))
    await websocket.accept(subprotocol=dialect.name if dialect else None)
    if dialect is None:
        await websocket.close(SUBPROTOCOL_NOT_ACCEPTABLE, "Subprotocol not acceptable")
        return
    await Connection(websocket, dialect, fanout).serve()
