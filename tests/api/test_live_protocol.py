"""Both WebSocket protocols against the whole app: life cycle, ping, complete, refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.api.live_server import (
    GRAPHQL_WS,
    LiveServer,
    closed_with,
    live_server,
    receive,
    send,
)
from velro_graphql.config import Settings

BALANCE = {"query": "subscription { creditsChanged { balance } }"}


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[LiveServer]:
    async with live_server(settings) as running:
        yield running


def subscribers(server: LiveServer) -> int:
    count: int = server.app.state.fanout.feeds.subscriber_count
    return count


async def test_ping_is_answered_and_complete_frees_the_id(server: LiveServer) -> None:
    ws = await server.signed_in("ping@example.com")
    await send(ws, "ping")
    assert await receive(ws) == {"type": "pong"}

    await send(ws, "subscribe", id="a", payload=BALANCE)
    first = await receive(ws)
    assert first == {
        "type": "next",
        "id": "a",
        "payload": {"data": {"creditsChanged": {"balance": 1000}}},
    }
    await send(ws, "complete", id="a")
    await send(ws, "ping")  # processed after `complete`, so its pong says complete was too
    assert await receive(ws) == {"type": "pong"}
    assert subscribers(server) == 0

    await send(ws, "subscribe", id="a", payload=BALANCE)  # the id is free again
    assert (await receive(ws))["payload"] == first["payload"]
    assert subscribers(server) == 1
    await ws.close()


async def test_legacy_stop_is_answered_with_complete(server: LiveServer) -> None:
    ws = await server.signed_in("legacy@example.com", GRAPHQL_WS)
    await send(ws, "start", id="1", payload=BALANCE)
    assert await receive(ws) == {
        "type": "data",
        "id": "1",
        "payload": {"data": {"creditsChanged": {"balance": 1000}}},
    }
    await send(ws, "stop", id="1")
    assert await receive(ws) == {"type": "complete", "id": "1"}
    assert subscribers(server) == 0
    await send(ws, "connection_terminate")
    assert await closed_with(ws) == 1000


async def test_transport_ws_refuses_what_the_protocol_forbids(server: LiveServer) -> None:
    early = await server.connect()
    await send(early, "subscribe", id="1", payload=BALANCE)
    assert await closed_with(early) == 4401

    twice = await server.signed_in("twice@example.com")
    await send(twice, "subscribe", id="1", payload=BALANCE)
    await receive(twice)
    await send(twice, "subscribe", id="1", payload=BALANCE)
    assert await closed_with(twice) == 4409

    garbled = await server.signed_in("garbled@example.com")
    await garbled.send("{not json")
    assert await closed_with(garbled) == 4400

    again = await server.signed_in("again@example.com")
    await send(again, "connection_init", payload={})
    assert await closed_with(again) == 4429


async def test_a_protocol_nobody_speaks_is_refused(server: LiveServer) -> None:
    ws = await server.connect("graphql-sse")
    assert await closed_with(ws) == 4406


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", GRAPHQL_WS])
async def test_invalid_documents_are_answered_with_coded_errors(
    server: LiveServer, protocol: str
) -> None:
    ws = await server.signed_in("typo@example.com", protocol)
    start = "start" if protocol == GRAPHQL_WS else "subscribe"
    cases = [
        ({"query": "subscription { creditsChanged { balanse } }"}, "BAD_USER_INPUT"),
        ({"query": "subscription {"}, "GRAPHQL_PARSE_FAILED"),
        (
            {"query": "subscription W($id: ID!) { generationUpdated(id: $id) { id } }"},
            "BAD_USER_INPUT",  # a required variable is missing
        ),
        (
            {"query": 'subscription { generationUpdated(id: "bm9wZQ==") { id } }'},
            "BAD_USER_INPUT",  # not a generation's global id
        ),
    ]
    for n, (payload, code) in enumerate(cases):
        await send(ws, start, id=str(n), payload=payload)
        error = await receive(ws)
        assert error["type"] == "error" and error["id"] == str(n)
        errors = [error["payload"]] if protocol == GRAPHQL_WS else error["payload"]
        assert errors[0]["extensions"]["code"] == code, (payload, errors)
    assert subscribers(server) == 0
    await ws.close()


async def test_queries_over_the_websocket_run_once_and_complete(server: LiveServer) -> None:
    ws = await server.signed_in("query@example.com")
    await send(ws, "subscribe", id="q", payload={"query": "{ me { email creditsBalance } }"})
    result = await receive(ws)
    assert result["type"] == "next" and result["id"] == "q"
    assert result["payload"]["data"] == {
        "me": {"email": "query@example.com", "creditsBalance": 1000}
    }
    assert await receive(ws) == {"type": "complete", "id": "q"}
    await ws.close()


async def test_subscriptions_end_with_the_connection(server: LiveServer) -> None:
    connections = [await server.signed_in(f"user{n}@example.com") for n in range(3)]
    for ws in connections:
        await send(ws, "subscribe", id="1", payload=BALANCE)
        await receive(ws)
    assert subscribers(server) == 3
    await asyncio.gather(*(ws.close() for ws in connections))
    for _ in range(100):
        if subscribers(server) == 0:
            break
        await asyncio.sleep(0.01)
    assert subscribers(server) == 0


async def test_the_socket_closes_when_its_token_expires_past_the_leeway(
    settings: Settings,
) -> None:
    import time

    from tests.factories import make_token

    # The verifier accepts a token until `exp` plus the leeway: so does the socket.
    async with live_server(settings.model_copy(update={"jwt_leeway_seconds": 2})) as server:
        ws = await server.connect()
        token = make_token("brief@example.com", exp=int(time.time()) + 1)
        await send(ws, "connection_init", payload={"Authorization": f"Bearer {token}"})
        assert (await receive(ws))["type"] == "connection_ack"
        await send(ws, "subscribe", id="a", payload=BALANCE)
        assert (await receive(ws))["type"] == "next"
        await asyncio.sleep(1.2)  # past `exp`, within the leeway
        await send(ws, "ping")
        reply = await receive(ws)
        while reply["type"] == "next":  # a state sent again (a resync on a busy machine)
            assert reply["payload"]["data"]["creditsChanged"]["balance"] == 1000
            reply = await receive(ws)
        assert reply == {"type": "pong"}
        async with asyncio.timeout(5):
            assert await closed_with(ws) == 4403
        assert subscribers(server) == 0


async def test_subscriptions_spend_the_operation_budget_when_they_start(
    settings: Settings,
) -> None:
    # connection_init spends one operation and each subscribe one more: 3 allow init + 2.
    strict = settings.model_copy(update={"rate_limit_operations_per_minute": 3})
    async with live_server(strict) as running:
        ws = await running.signed_in("budget@example.com")
        for op_id in ("a", "b"):
            await send(ws, "subscribe", id=op_id, payload=BALANCE)
            assert (await receive(ws))["type"] == "next"
        await send(ws, "subscribe", id="c", payload=BALANCE)
        refused = await receive(ws)
        assert refused["type"] == "error" and refused["id"] == "c"
        assert refused["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
        await ws.close()
