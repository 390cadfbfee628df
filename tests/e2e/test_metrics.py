"""Job metrics from both processes: a `serve --no-worker` and a `velro-graphql worker` with
METRICS_PORT on one database, scraped after generations that complete, fail, time out and are
cancelled; parsed with prometheus_client's parser and checked by promtool where installed."""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.server import ServerProcess, free_port, server_env, server_factory
from tests.factories import make_token

TOKEN = "metrics-token-for-tests-0123456789"
SCRAPE = {"Authorization": f"Bearer {TOKEN}"}
ENV = {
    "METRICS_TOKEN": TOKEN,
    "METRICS_REFRESH_SECONDS": "0",
    "WORKER_HOUSEKEEPING_SECONDS": "0.2",
}
START = """
mutation($input: StartGenerationInput!) {
  startGeneration(input: $input) { generation { id } userErrors { code } }
}"""
STATUS = "query($id: ID!) { generation(id: $id) { status error { code } } }"
CANCEL = "mutation($id: ID!) { cancelGeneration(input: {id: $id}) { creditsBalance } }"
MODEL = "fal-ai/flux-pro"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
async def web(database_url: str, tmp_path: Path) -> AsyncIterator[ServerProcess]:
    async with server_factory(database_url, tmp_path / "web") as start:
        yield await start(worker=False, env=ENV)


@pytest.fixture
def worker_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A `velro-graphql worker` serving /metrics and /health on its METRICS_PORT."""
    port, home = free_port(), tmp_path / "worker"
    env = server_env(database_url, home, free_port(), **ENV, METRICS_PORT=str(port))
    with (tmp_path / "worker.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "velro_graphql", "worker"], env=env, stdout=log, stderr=log
        )
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(15)


async def test_both_processes_export_job_metrics_after_real_generations(
    web: ServerProcess, worker_url: str, database_url: str
) -> None:
    await _wait_healthy(worker_url)
    async with _graphql(web) as gql:
        ids = {
            name: await _start(gql, prompt)
            for name, prompt in (
                ("done", "a lighthouse"),
                ("failed", "a storm [simulate-failure]"),
                ("late", "a fog [simulate-hang]"),
                ("cancelled", "a calm sea [simulate-hang]"),
            )
        }
        for name in ("late", "cancelled"):  # submitted: the worker counts both calls
            await _wait_status(gql, ids[name], "IN_PROGRESS")
        waiting = await _scrape(worker_url)
        assert waiting[("velro_graphql_generations", _labels(status="IN_PROGRESS"))] >= 1
        oldest = _labels(status="IN_PROGRESS")
        assert waiting[("velro_graphql_generation_oldest_unfinished_age_seconds", oldest)] > 0

        await gql.post("", json={"query": CANCEL, "variables": {"id": ids["cancelled"]}})
        await _expire(database_url, ids["late"])
        assert await _wait_status(gql, ids["done"], "COMPLETED") is None
        assert await _wait_status(gql, ids["failed"], "FAILED") == "PROVIDER_ERROR"
        assert await _wait_status(gql, ids["late"], "FAILED") == "TIMEOUT"

    worker, api = await _scrape(worker_url), await _scrape(web.url)
    _assert_worker(worker)
    _assert_web(api)


def _assert_worker(samples: Samples) -> None:
    outcomes = "velro_graphql_generation_outcomes_total"
    assert samples[(outcomes, _labels(status="COMPLETED", code="none"))] == 1
    assert samples[(outcomes, _labels(status="FAILED", code="PROVIDER_ERROR"))] == 1
    assert samples[(outcomes, _labels(status="FAILED", code="TIMEOUT"))] == 1
    assert samples[("velro_graphql_reaper_actions_total", _labels(action="timed_out"))] == 1
    model = _labels(model=MODEL)
    assert samples[("velro_graphql_generation_queue_wait_seconds_count", model)] == 3
    assert samples[("velro_graphql_generation_run_seconds_count", model)] == 3
    calls = "velro_graphql_provider_calls_total"
    assert samples[(calls, _labels(provider="simulator", call="submit", outcome="ok"))] == 4
    assert samples[(calls, _labels(provider="simulator", call="result", outcome="ok"))] == 1
    assert samples[("velro_graphql_outputs_unstored", frozenset())] == 0
    for status in ("QUEUED", "IN_PROGRESS"):
        assert samples[("velro_graphql_generations", _labels(status=status))] == 0


def _assert_web(samples: Samples) -> None:
    outcomes = "velro_graphql_generation_outcomes_total"
    assert samples[(outcomes, _labels(status="CANCELLED", code="none"))] == 1
    assert samples[("velro_graphql_generations", _labels(status="QUEUED"))] == 0
    assert samples[("velro_graphql_listen_reconnects_total", frozenset())] == 0
    assert samples[("velro_graphql_live_subscribers", frozenset())] == 0
    ok = _labels(type="mutation", outcome="ok")
    assert samples[("velro_graphql_operations_total", ok)] >= 5


async def test_the_worker_metrics_port_refuses_strangers_and_unknown_paths(
    worker_url: str,
) -> None:
    await _wait_healthy(worker_url)
    async with httpx.AsyncClient(base_url=worker_url, timeout=5) as client:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/elsewhere")).status_code == 404
        assert (await client.post("/metrics", headers=SCRAPE)).status_code == 405


def _labels(**labels: str) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


async def _scrape(url: str) -> Samples:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(f"{url}/metrics", headers=SCRAPE)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    _promtool_check(response.text)
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _promtool_check(exposition: str) -> None:
    """`promtool check metrics` (Debian's `prometheus` package) where it is installed."""
    if shutil.which("promtool") is None:
        return
    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=exposition, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _graphql(web: ServerProcess) -> httpx.AsyncClient:
    token = make_token("operator@example.com")
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.AsyncClient(base_url=web.graphql_url, headers=headers, timeout=10)


async def _start(gql: httpx.AsyncClient, prompt: str) -> str:
    variables = {"input": {"modelId": MODEL, "prompt": prompt}}
    payload = (await gql.post("", json={"query": START, "variables": variables})).json()
    started: dict[str, Any] = payload["data"]["startGeneration"]
    assert started["userErrors"] == [], started
    return str(started["generation"]["id"])


async def _wait_status(
    gql: httpx.AsyncClient, generation_id: str, status: str, timeout: float = 20
) -> str | None:
    """Wait for the status; return the error code the generation then has."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = await gql.post("", json={"query": STATUS, "variables": {"id": generation_id}})
        found = body.json()["data"]["generation"]
        if found["status"] == status:
            return found["error"] and found["error"]["code"]
        await asyncio.sleep(0.1)
    raise AssertionError(f"{generation_id} never became {status}")


async def _expire(database_url: str, generation_id: str) -> None:
    """Move a hanging generation's deadline into the past, for the worker's reaper to find."""
    uuid = base64.b64decode(generation_id).decode().split(":", 1)[1]
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "UPDATE generations SET deadline_at = now() - interval '1 second' WHERE id = $1",
            uuid,
        )
    finally:
        await conn.close()


async def _wait_healthy(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=1) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"{url}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise AssertionError(f"the worker's {url}/health never answered")
