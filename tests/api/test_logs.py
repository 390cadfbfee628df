"""Logs are JSON lines with request id, user and duration, and never carry a secret."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import app_client, instant
from tests.factories import TEST_JWT_SECRET, make_token
from velro_graphql.config import Settings
from velro_graphql.logs import JsonFormatter

START = (
    'mutation { startGeneration(input: {modelId: "fal-ai/flux-pro", prompt: "a fox"})'
    " { generation { id } } }"
)
WATCH = "query($id: ID!) { generation(id: $id) { status outputs { url thumbnailUrl } } }"


async def test_a_full_generation_logs_no_secret(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    quick = instant(settings, provider_poll_seconds=0.01, worker_idle_seconds=0.02)
    token = make_token("alice@example.com")
    headers = {"Authorization": f"Bearer {token}", "X-Request-Id": "req-logs-0001"}
    with caplog.at_level(logging.DEBUG):
        async with app_client(quick, run_worker=True) as http:
            started = await http.post("/graphql", json={"query": START}, headers=headers)
            generation_id = started.json()["data"]["startGeneration"]["generation"]["id"]
            generation = await _wait_completed(http, generation_id, headers)
            url = generation["outputs"][0]["url"]
            parts = urlsplit(url)
            download = await http.get(f"{parts.path}?{parts.query}")
            assert download.status_code == 200
            storage_secret = quick.local_storage_secret().decode()

    lines = [JsonFormatter().format(record) for record in caplog.records]
    text = "\n".join(lines)
    for secret in (token, TEST_JWT_SECRET, storage_secret, parts.query):
        assert secret not in text
    operations = [json.loads(line) for line in lines if '"message": "operation"' in line]
    assert operations, "no operation log line"
    first = operations[0]
    assert first["request_id"] == "req-logs-0001"
    assert first["user_id"] and first["duration_ms"] >= 0
    assert first["operation"] == "mutation"


async def _wait_completed(http: Any, generation_id: str, headers: dict[str, str]) -> Any:
    for _ in range(200):
        reply = await http.post(
            "/graphql", json={"query": WATCH, "variables": {"id": generation_id}}, headers=headers
        )
        generation = reply.json()["data"]["generation"]
        if generation["status"] == "COMPLETED":
            return generation
        await asyncio.sleep(0.05)
    raise AssertionError("the generation did not complete")
