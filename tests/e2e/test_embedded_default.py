"""`velro-graphql serve` with no configuration: embedded Postgres, local storage, simulator."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from PIL import Image

from tests.api.uploads_flow import COMPLETE, create, graphql, picture, put
from tests.e2e.server import ServerProcess, free_port, wait_healthy
from tests.providers.test_simulator import assert_shows_reference

CONFIGURATION = ("DATABASE_URL", "SUPABASE_URL", "SUPABASE_JWT_SECRET", "FAL_KEY", "PORT")
WATCH = "subscription($id: ID!) { generationUpdated(id: $id) { status outputs { url stored } } }"


@pytest.fixture
def bare_env(embedded_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CONFIGURATION}
    return {**env, "VELRO_HOME": str(embedded_home)}


@pytest.fixture
def server(bare_env: dict[str, str], tmp_path: Path) -> Iterator[ServerProcess]:
    port = free_port()
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "velro_graphql", "serve", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=bare_env, stdout=out, stderr=subprocess.STDOUT)
    running = ServerProcess(process, port, log)
    yield running
    running.stop()


def token(env: dict[str, str]) -> str:
    command = [sys.executable, "-m", "velro_graphql", "token", "--email", "me@example.com"]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout


async def test_the_embedded_default_serves_a_generation_watched_live(
    server: ServerProcess, bare_env: dict[str, str]
) -> None:
    await wait_healthy(server, timeout=60)
    bearer = {"Authorization": f"Bearer {token(bare_env).strip()}"}
    async with httpx.AsyncClient(base_url=server.url, headers=bearer, timeout=10) as http:
        assert "graphiql" in (await http.get("/graphql", headers={"Accept": "text/html"})).text
        me = await http.post("/graphql", json={"query": "{ me { creditsBalance } }"})
        assert me.json()["data"] == {"me": {"creditsBalance": 1000}}
        start = 'mutation { startGeneration(input: {modelId: "fal-ai/flux-pro", prompt: "a fox"})'
        started = await http.post("/graphql", json={"query": start + " { generation { id } } }"})
        generation_id = started.json()["data"]["startGeneration"]["generation"]["id"]
        statuses, outputs = await watch(server, bearer, generation_id)
        assert statuses == ["QUEUED", "IN_PROGRESS", "COMPLETED"]
        assert outputs[0]["stored"] is True
        image = await http.get(outputs[0]["url"])
        assert image.headers["content-type"] == "image/png"
        await edit_an_uploaded_picture(server, bearer, http)


async def edit_an_uploaded_picture(
    server: ServerProcess, bearer: dict[str, str], http: httpx.AsyncClient
) -> None:
    """Upload a picture, edit it with Kontext: the output shows it in its frame."""
    data = picture("image/png", (80, 60))
    upload = (await create(http, "image/png", len(data)))["upload"]
    assert (await put(http, upload, data)).status_code == 200
    completed = await graphql(http, COMPLETE, id=upload["id"])
    assert completed["completeUpload"]["userErrors"] == []
    given = {"modelId": "fal-ai/flux-pro/kontext/max", "prompt": "at night",
             "imageUploadId": upload["id"]}  # fmt: skip
    started = await graphql(http, START_FROM_IMAGE, input=given)
    generation_id = started["startGeneration"]["generation"]["id"]
    statuses, outputs = await watch(server, bearer, generation_id)
    assert statuses[-1] == "COMPLETED"
    image = await http.get(outputs[0]["url"])
    assert_shows_reference(Image.open(io.BytesIO(image.content)).convert("RGB"))


async def watch(
    server: ServerProcess, bearer: dict[str, str], generation_id: str
) -> tuple[list[str], list[dict[str, Any]]]:
    """The distinct statuses a subscriber sees until COMPLETED, and the final outputs."""
    async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": bearer}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        variables = {"id": generation_id}
        payload = {"query": WATCH, "variables": variables}
        await ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": payload}))
        statuses: list[str] = []
        async with asyncio.timeout(60):  # the default simulator takes about 9 s
            return await _until_completed(ws, statuses)


async def _until_completed(ws: Any, statuses: list[str]) -> tuple[list[str], list[Any]]:
    while True:
        message = json.loads(await ws.recv())
        generation = message["payload"]["data"]["generationUpdated"]
        if not statuses or statuses[-1] != generation["status"]:
            statuses.append(generation["status"])
        if generation["status"] == "COMPLETED":
            return statuses, generation["outputs"]


START_FROM_IMAGE = """mutation($input: StartGenerationInput!) { startGeneration(input: $input) {
  generation { id } userErrors { field code } } }"""
