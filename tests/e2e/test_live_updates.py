"""Live updates end to end: real `serve` processes, gql over HTTP and both WebSocket protocols."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportError, TransportQueryError, TransportServerError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport
from websockets.exceptions import ConnectionClosed

from tests.e2e.server import ServerFactory, ServerProcess, server_factory
from tests.factories import make_token

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FINISHED = ("COMPLETED", "FAILED", "CANCELLED")

START = """
mutation Start($input: StartGenerationInput!) {
  startGeneration(input: $input) {
    generation { id status }
    creditsBalance
    userErrors { field message code }
  }
}
"""
GENERATION_UPDATED = """
subscription Watch($id: ID!) {
  generationUpdated(id: $id) {
    id status progress
    outputs { url contentType stored }
    error { code message }
  }
}
"""
CREDITS_CHANGED = "subscription { creditsChanged { balance } }"


@pytest.fixture
async def start_server(database_url: str, tmp_path: Path) -> AsyncIterator[ServerFactory]:
    async with server_factory(database_url, tmp_path / "home") as start:
        yield start


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def http_client(server: ServerProcess, token: str) -> Client:
    return Client(transport=HTTPXAsyncTransport(url=server.graphql_url, headers=bearer(token)))


def ws_client(
    server: ServerProcess, init_payload: dict[str, Any] | None, *, legacy: bool = False
) -> Client:
    protocol = (
        WebsocketsTransport.APOLLO_SUBPROTOCOL
        if legacy
        else WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL
    )
    transport = WebsocketsTransport(
        url=server.ws_url, init_payload=init_payload, subprotocols=[protocol], ack_timeout=5
    )
    return Client(transport=transport)


def watch(generation_id: str) -> GraphQLRequest:
    return GraphQLRequest(GENERATION_UPDATED, variable_values={"id": generation_id})


async def start_generation(server: ServerProcess, token: str, prompt: str) -> dict[str, Any]:
    variables = {"input": {"modelId": "fal-ai/flux-pro", "prompt": prompt}}
    async with http_client(server, token) as session:
        result = await session.execute(GraphQLRequest(START, variable_values=variables))
    payload: dict[str, Any] = result["startGeneration"]
    assert payload["userErrors"] == []
    return payload


async def first_message(session: Any, request: GraphQLRequest) -> dict[str, Any]:
    """Subscribe, take the first message (the current state) and complete the subscription."""
    async with aclosing(session.subscribe(request)) as updates:
        first: dict[str, Any] = await asyncio.wait_for(anext(updates), 5)
    return first


async def statuses_until_finished(
    session: Any, generation_id: str, *, timeout: float = 10
) -> tuple[list[str], dict[str, Any]]:
    """The distinct statuses `generationUpdated` reports, in order, and the last generation."""
    seen: list[str] = []

    async def collect(updates: AsyncGenerator[dict[str, Any], None]) -> dict[str, Any]:
        async for data in updates:
            generation: dict[str, Any] = data["generationUpdated"]
            if not seen or seen[-1] != generation["status"]:
                seen.append(generation["status"])
            if generation["status"] in FINISHED:
                return generation
        raise AssertionError("the subscription ended before the generation finished")

    async with aclosing(session.subscribe(watch(generation_id))) as updates:
        last = await asyncio.wait_for(collect(updates), timeout)
    return seen, last


async def test_a_generation_is_watched_live_and_its_output_downloaded(
    start_server: ServerFactory,
) -> None:
    server = await start_server()
    token = make_token("alice@example.com")
    # Connect first, so the subscription starts while the generation is still queued.
    async with ws_client(server, bearer(token)) as ws:
        started = await start_generation(server, token, "a lighthouse at dusk")
        generation_id = started["generation"]["id"]
        seen, last = await statuses_until_finished(ws, generation_id)

    assert seen == ["QUEUED", "IN_PROGRESS", "COMPLETED"]
    assert last["id"] == generation_id and last["error"] is None
    (output,) = last["outputs"]
    assert output["stored"] is True and output["contentType"] == "image/png"
    async with httpx.AsyncClient(timeout=5) as files:
        download = await files.get(output["url"])
        assert download.status_code == 200
        assert download.content.startswith(PNG_SIGNATURE)
        assert (await files.get(tampered(output["url"]))).status_code == 403


def tampered(url: str) -> str:
    last = url[-1]
    return url[:-1] + ("0" if last != "0" else "1")


async def test_a_subscriber_on_one_process_sees_a_generation_run_by_another(
    start_server: ServerFactory,
) -> None:
    api, worker = await asyncio.gather(start_server(worker=False), start_server(worker=True))
    token = make_token("bob@example.com")
    async with ws_client(api, bearer(token)) as ws:
        started = await start_generation(api, token, "two processes, one database")
        seen, last = await statuses_until_finished(ws, started["generation"]["id"])

    assert seen[0] == "QUEUED" and seen[-1] == "COMPLETED"
    assert last["outputs"][0]["stored"] is True
    assert worker.process.poll() is None


async def test_another_users_generation_is_not_found_and_never_data(
    start_server: ServerFactory,
) -> None:
    server = await start_server(worker=False)
    owner, intruder = make_token("owner@example.com"), make_token("intruder@example.com")
    started = await start_generation(server, owner, "private")
    generation_id = started["generation"]["id"]
    async with ws_client(server, bearer(intruder)) as ws:
        with pytest.raises(TransportQueryError) as refused:
            async for data in ws.subscribe(watch(generation_id)):
                raise AssertionError(f"another user's generation leaked: {data}")
    assert refused.value.data is None
    assert [e["extensions"]["code"] for e in refused.value.errors or []] == ["NOT_FOUND"]
    # The id is real: its owner, on the same server, gets it.
    async with ws_client(server, bearer(owner)) as ws:
        first = await first_message(ws, watch(generation_id))
    assert first["generationUpdated"]["status"] == "QUEUED"


BAD_INIT_PAYLOADS = [
    None,
    {},
    bearer(make_token("mallory@example.com", secret="not-the-server-secret-0123456789abcdef")),
    bearer(make_token("late@example.com", exp=1)),
    {"Authorization": "Basic bWFsbG9yeTpzZWNyZXQ="},
]


@pytest.mark.parametrize("legacy", [False, True], ids=["graphql-transport-ws", "graphql-ws"])
async def test_connection_init_without_a_valid_token_is_rejected(
    start_server: ServerFactory, legacy: bool
) -> None:
    server = await start_server(worker=False)
    for init_payload in BAD_INIT_PAYLOADS:
        with pytest.raises(TransportError) as rejected:
            async with ws_client(server, init_payload, legacy=legacy) as ws:
                async for data in ws.subscribe(GraphQLRequest(CREDITS_CHANGED)):
                    raise AssertionError(f"an unauthenticated subscription got {data}")
        assert rejection(rejected.value) == ("UNAUTHENTICATED" if legacy else 4403), init_payload


def rejection(error: TransportError) -> object:
    """graphql-transport-ws closes with 4403; the legacy protocol sends connection_error."""
    if isinstance(error, TransportServerError):
        return "UNAUTHENTICATED" if "UNAUTHENTICATED" in str(error) else str(error)
    closed = error.__cause__
    return closed.rcvd.code if isinstance(closed, ConnectionClosed) and closed.rcvd else closed


async def test_credits_changed_over_the_legacy_graphql_ws_protocol(
    start_server: ServerFactory,
) -> None:
    server = await start_server(worker=False)
    token = make_token("carol@example.com")
    async with (
        ws_client(server, bearer(token), legacy=True) as ws,
        aclosing(ws.subscribe(GraphQLRequest(CREDITS_CHANGED))) as balances,
    ):
        first = await asyncio.wait_for(anext(balances), 5)
        started = await start_generation(server, token, "legacy clients still watch")
        second = await asyncio.wait_for(anext(balances), 5)

    assert first["creditsChanged"]["balance"] == 1000
    assert second["creditsChanged"]["balance"] == started["creditsBalance"] == 990


async def test_subscriptions_per_connection_are_bounded(start_server: ServerFactory) -> None:
    server = await start_server(worker=False, env={"MAX_SUBSCRIPTIONS_PER_CONNECTION": "2"})
    token = make_token("dave@example.com")
    async with ws_client(server, bearer(token)) as ws:
        held = [ws.subscribe(GraphQLRequest(CREDITS_CHANGED)) for _ in range(2)]
        for subscription in held:
            assert await asyncio.wait_for(anext(subscription), 5) == {
                "creditsChanged": {"balance": 1000}
            }
        with pytest.raises(TransportQueryError) as refused:
            await first_message(ws, GraphQLRequest(CREDITS_CHANGED))
        assert [e["extensions"]["code"] for e in refused.value.errors or []] == ["RATE_LIMITED"]
        # Completing one frees its slot for the next.
        await held.pop().aclose()
        assert await first_after_slot_frees(ws) == {"creditsChanged": {"balance": 1000}}
        await held.pop().aclose()


async def first_after_slot_frees(ws: Any, *, attempts: int = 20) -> dict[str, Any]:
    # The server frees a slot once it has processed `complete`, a moment after it was sent.
    for _ in range(attempts):
        try:
            first = await first_message(ws, GraphQLRequest(CREDITS_CHANGED))
        except TransportQueryError:
            await asyncio.sleep(0.05)
            continue
        return first
    raise AssertionError("the slot of a completed subscription was never freed")
