"""Hostile messages over both WebSocket protocols: huge frames, deeply nested JSON, integers
past Python's limit, tokens whose `alg` is not a string, unstorable text, malformed payloads.
Each is answered with a coded error (never INTERNAL) or closed with a documented code: never an
abnormal close (1006) and never a dropped connection."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.api.auth_tokens import hand_made_token
from tests.api.live_server import GRAPHQL_WS, TRANSPORT_WS, LiveServer, live_server
from tests.factories import TEST_JWT_SECRET, make_claims, make_token
from velro_graphql.config import Settings

EMAIL = "fuzz-ws@example.com"
LIMIT = 4096
# 1000 closed by the client, 1009 too big, 1011 the legacy protocol's refused init,
# 1013 try again later, 44xx graphql-transport-ws's refusals.
DOCUMENTED_CLOSES = {1000, 1009, 1011, 1013, 4400, 4401, 4403, 4429}
SUB = "subscription { creditsChanged { balance } }"
SURROGATE_LITERAL = '{ generations(filter: {modelId: "\\ud800"}) { totalCount } }'


def frame(type_: str, **fields: Any) -> str:
    return json.dumps({"type": type_, **fields})


def op(start: str, payload: object, op_id: object = "x") -> str:
    return json.dumps({"type": start, "id": op_id, "payload": payload})


def token_with_alg(alg: object) -> str:
    return hand_made_token({"alg": alg}, make_claims(EMAIL), TEST_JWT_SECRET.encode())


def cases(start: str) -> list[tuple[bool, list[str]]]:
    """(signed in first?, the messages to send)."""
    nested = '{"type": "ping", "payload": ' + "[" * 3000 + "]" * 3000 + "}"
    return [
        (False, ["x" * (LIMIT + 1)]),
        (True, [op(start, {"query": "{ me { id } }" + " " * LIMIT})]),
        (True, [nested]),
        (True, [op(start, {"query": SUB, "variables": {"a": json.loads("[" * 500 + "]" * 500)}})]),
        (True, ['{"type": "ping", "n": ' + "9" * 5000 + "}"]),
        (True, ['{"type": "' + "\\ud800" + '"}']),
        *(
            (False, [frame("connection_init", payload={"Authorization": f"Bearer {token}"})])
            for token in (token_with_alg(["HS256"]), token_with_alg({"a": 1}), token_with_alg(None))
        ),
        (False, [frame("connection_init", payload={"Authorization": ["Bearer", 1]})]),
        (False, [frame("connection_init", payload=[1, 2])]),
        (True, [op(start, {"query": SUB.replace("balance", "balance # \ud800\n")})]),
        (True, [op(start, {"query": "subscription($p: ID) { generationEvents(projectId: $p) "
                           "{ id } }", "variables": {"p": "\ud800\x00"}})]),
        (True, [op(start, {"query": SURROGATE_LITERAL})]),
        (True, [op(start, {"query": "{ generations(first: " + "9" * 200 + ") { totalCount } }"})]),
        (True, [op(start, {"query": 12})]),
        (True, [op(start, [SUB])]),
        (True, [op(start, {"query": SUB, "variables": "x"})]),
        (True, [op(start, {"query": SUB, "extensions": {"persistedQuery": "x"}})]),
        (True, [op(start, {"extensions": {"persistedQuery": {"sha256Hash": "0" * 64}}})]),
        (True, [op(start, {"query": SUB}, op_id=["x"])]),
        (True, [op(start, {"query": "{ __schema { types { name } } }"})]),
        (True, [frame("é" * 100)]),  # a close reason quoting it must fit 123 bytes
    ]  # fmt: skip


async def outcome(server: LiveServer, protocol: str, signed_in: bool, sent: list[str]) -> str:
    """What happened, or a problem: the messages' error codes, or the close code."""
    ws = await (server.signed_in(EMAIL, protocol) if signed_in else server.connect(protocol))
    seen: list[str] = []
    try:
        for message in sent:
            await ws.send(message)
        probe = op("start", {"query": SUB}, "probe") if protocol == GRAPHQL_WS else frame("ping")
        await ws.send(probe)
        async with asyncio.timeout(5):
            while True:
                reply = json.loads(await ws.recv())
                seen += codes(reply)
                if reply["type"] in ("pong", "data") or reply.get("id") == "probe":
                    break
    except ConnectionClosed:
        assert ws.close_code in DOCUMENTED_CLOSES, f"closed {ws.close_code} after {sent}"
        seen.append(f"closed {ws.close_code}")
    finally:
        await ws.close()
    assert "INTERNAL" not in seen and None not in seen, (sent, seen)
    return ", ".join(seen) or "ignored"


def codes(reply: dict[str, Any]) -> list[str]:
    payload = reply.get("payload")
    if reply["type"] == "error":
        errors = payload if isinstance(payload, list) else [payload]
    elif reply["type"] in ("next", "data"):
        errors = payload.get("errors") or []
    elif reply["type"] == "connection_error":
        return [payload.get("code")]
    else:
        return []
    return [(e.get("extensions") or {}).get("code") for e in errors]


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[LiveServer]:
    limited = settings.model_copy(
        update={"max_websocket_message_bytes": LIMIT, "rate_limit_operations_per_minute": 10_000}
    )
    async with live_server(limited) as running:
        running.app.state.services.settings  # noqa: B018 (started)
        yield running


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, GRAPHQL_WS])
async def test_hostile_websocket_messages_get_codes_or_documented_closes(
    server: LiveServer, protocol: str
) -> None:
    start = "start" if protocol == GRAPHQL_WS else "subscribe"
    outcomes = [await outcome(server, protocol, *case) for case in cases(start)]
    assert outcomes[0] == outcomes[1] == "closed 1009"  # before and after connection_init
    refused_init = "closed 4403" if protocol == TRANSPORT_WS else "UNAUTHENTICATED, closed 1011"
    assert outcomes[6:9] == [refused_init] * 3
    assert outcomes[12] == "BAD_USER_INPUT"  # unstorable text in the variables
    assert outcomes[13] == "GRAPHQL_PARSE_FAILED"  # the lexer refuses it in a literal
    assert outcomes[14] == "BAD_USER_INPUT"  # an integer literal past 100 digits


async def test_a_valid_token_still_signs_in_after_the_hostile_ones(server: LiveServer) -> None:
    ws = await server.connect()
    await ws.send(
        frame("connection_init", payload={"Authorization": f"Bearer {make_token(EMAIL)}"})
    )
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.close()
