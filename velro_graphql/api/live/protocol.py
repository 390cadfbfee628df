"""The two WebSocket protocols: graphql-transport-ws, and Apollo's legacy graphql-ws.

They share a life cycle (connection_init, then operations by id) and differ in names and in
how they refuse: see `Dialect`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Close codes of graphql-transport-ws (strawberry used the same ones for both protocols).
BAD_REQUEST = 4400
UNAUTHORIZED = 4401
FORBIDDEN = 4403
SUBPROTOCOL_NOT_ACCEPTABLE = 4406
INIT_TIMEOUT = 4408
DUPLICATE_ID = 4409
TOO_MANY_REQUESTS = 4429
TRY_AGAIN_LATER = 1013
# RFC 6455: a message over MAX_WEBSOCKET_MESSAGE_BYTES (uvicorn's ws_max_size sends it too).
MESSAGE_TOO_BIG = 1009


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    data: str  # the server sends one of its results
    # graphql-ws: one error object (not a list) in `error`, refusals as `connection_error`,
    # `stop` answered with `complete`, unknown or malformed messages ignored.
    legacy: bool

    def data_prefix(self, op_id: str) -> str:
        """A result message up to its payload, to which the payload and `}` are appended."""
        return f'{{"type":"{self.data}","id":{json.dumps(op_id)},"payload":'

    def error(self, op_id: str, errors: Sequence[dict[str, Any]]) -> str:
        payload: object = errors[0] if self.legacy else list(errors)
        return message("error", id=op_id, payload=payload)


TRANSPORT_WS = Dialect("graphql-transport-ws", "next", legacy=False)
GRAPHQL_WS = Dialect("graphql-ws", "data", legacy=True)
_DIALECTS = {dialect.name: dialect for dialect in (TRANSPORT_WS, GRAPHQL_WS)}


def negotiate(offered: Sequence[str]) -> Dialect | None:
    """The first protocol the client offers that we speak."""
    return next((_DIALECTS[name] for name in offered if name in _DIALECTS), None)


def message(type_: str, **fields: object) -> str:
    return json.dumps({"type": type_, **fields}, separators=(",", ":"))


def too_big(received: Mapping[str, Any], limit: int) -> bool:
    """Whether a message is over `limit` bytes (in UTF-8), checked before it is decoded."""
    text, data = received.get("text"), received.get("bytes")
    if text is not None:
        return len(text) > limit or (
            len(text) * 4 > limit and len(text.encode("utf-8", "surrogatepass")) > limit
        )
    return data is not None and len(data) > limit
