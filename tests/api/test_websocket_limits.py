"""Issue 8's WebSocket attack, replayed: oversize and distinct documents neither grow the
process without bound nor stall another client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from pathlib import Path

import httpx
from websockets.exceptions import ConnectionClosed

from tests.api.live_server import closed_with, live_server, send
from tests.api.test_admission_matrix import answer
from tests.factories import make_token
from velro_graphql.config import Settings
from velro_graphql.serving import server_config

# Growth allowed after 50 oversize and 50 distinct documents: the document cache's bound (set
# below) and what the interpreter keeps of freed memory. Before the fix: ~200 MB for 12.
MAX_GROWTH_BYTES = 40 * 1024 * 1024
MAX_LAG_SECONDS = 0.1  # issue 8: another user's request went from 6 ms to 1,288 ms
HELD_LOOP_SECONDS = 1.6  # what one oversize document held the loop for before the fix


ROOT = Path(__file__).resolve().parents[2]


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_serve_caps_messages_in_uvicorn_itself(settings: Settings) -> None:
    assert server_config(None, settings, host="127.0.0.1", port=0).ws_max_size == 100_000
    smaller = settings.model_copy(update={"max_websocket_message_bytes": 4096})
    assert server_config(None, smaller, host="127.0.0.1", port=0).ws_max_size == 4096


async def test_uvicorn_refuses_an_oversize_frame_with_1009(settings: Settings) -> None:
    async with live_server(settings, ws_max_size=settings.websocket_message_limit) as server:
        ws = await server.signed_in("big@example.com")
        await ws.send("x" * (2 * 1024 * 1024))
        assert await closed_with(ws) == 1009


async def attack(server_url: str, token: str) -> None:
    """50 oversize documents, each on its own connection, then 50 distinct ones just under the
    limit on one connection (each answered with an error, never kept by its text)."""
    for n in range(50):
        async with asyncio.timeout(10):
            ws = await connect_signed_in(server_url, token)
            try:
                await send(ws, "subscribe", id="1", payload={"query": f"# {n}" + "x" * 200_000})
                await ws.wait_closed()
            except ConnectionClosed:
                pass
            assert ws.close_code == 1009
    ws = await connect_signed_in(server_url, token)
    for n in range(50):
        query = f"{{ me {{ id }} }} # {n} " + "y" * 95_000
        await send(ws, "subscribe", id=str(n), payload={"query": query})
        assert (await answer(ws, str(n)))["type"] == "next"
    await ws.close()


async def attacker(url: str, token: str) -> asyncio.subprocess.Process:
    """`attack` from another process, as another client would: its own work is not the
    server's loop lag."""
    script = (
        "import asyncio, sys; from tests.api.test_websocket_limits import attack; "
        "asyncio.run(attack(sys.argv[1], sys.argv[2]))"
    )
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, url, token, cwd=ROOT, stderr=asyncio.subprocess.PIPE
    )


async def connect_signed_in(url: str, token: str) -> object:
    import websockets

    ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"], max_size=None)  # type: ignore[list-item]
    await send(ws, "connection_init", payload={"Authorization": f"Bearer {token}"})
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    return ws


async def test_oversize_documents_neither_grow_memory_nor_stall_others(settings: Settings) -> None:
    generous = settings.model_copy(
        update={
            "rate_limit_operations_per_minute": 10_000,
            "document_cache_max_bytes": 16 * 1024 * 1024,
        }
    )
    async with live_server(generous) as server:
        http_url = server.url.replace("ws://", "http://")
        other = {"Authorization": f"Bearer {make_token('bystander@example.com')}"}
        latencies: list[float] = []
        async with httpx.AsyncClient(base_url=http_url, headers=other) as http:
            await http.post("", json={"query": "{ me { id } }"})  # provisioned, warm
            before = rss()
            attacking = await attacker(server.url, make_token("mallory@example.com"))
            while attacking.returncode is None:
                started = time.perf_counter()
                reply = await http.post("", json={"query": "{ me { id } }"})
                latencies.append(time.perf_counter() - started)
                assert reply.json()["data"]["me"]["id"]
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(attacking.wait(), 0.02)
            assert attacking.returncode == 0, (await attacking.communicate())[1].decode()
        growth = rss() - before
        cached = server.app.state.fanout.admission.documents.cached_bytes
    assert growth < MAX_GROWTH_BYTES, f"grew {growth / 2**20:.1f} MiB"
    assert cached <= 16 * 1024 * 1024
    assert len(latencies) > 10
    # Before the fix each document held the loop 1.6 s. On a shared host one scheduler hiccup
    # can cost a single request more than the bound (505 ms was seen), so the bound holds for
    # nine in ten and the slowest stays below one held document.
    latencies.sort()
    p90 = latencies[int(len(latencies) * 0.9)]
    assert p90 < MAX_LAG_SECONDS, f"p90 {p90 * 1000:.0f} ms"
    assert latencies[-1] < HELD_LOOP_SECONDS, f"slowest {latencies[-1] * 1000:.0f} ms"
