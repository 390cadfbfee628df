"""`velro-graphql catalog export|import|set` against a running server: every change is served
within 5 seconds without a restart; a bad file changes nothing."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.server import server_env, server_factory

FLUX = "fal-ai/flux-pro/v1.1-ultra"
MODELS = {"query": "{ models { id deprecated pricing { unit credits } } }"}


def catalog(database_url: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "velro_graphql", "catalog", *args],
        env=server_env(database_url, home, 0),
        capture_output=True,
        text=True,
        timeout=60,
    )


async def served(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=5) as client:
        reply = await client.post(url, json=MODELS)
    return {model["id"]: model for model in reply.json()["data"]["models"]}


async def served_within(url: str, check: Any, seconds: float = 5.0) -> float:
    """How long until the server serves what `check` wants (fails past `seconds`)."""
    began = time.monotonic()
    while not check(await served(url)):
        assert time.monotonic() - began < seconds, "the change was not served in time"
        await asyncio.sleep(0.05)
    return time.monotonic() - began


async def test_an_imported_file_is_served_by_a_running_server(
    database_url: str, tmp_path: Path
) -> None:
    async with server_factory(database_url, tmp_path / "home") as start:
        server = await start(worker=False)
        exported = tmp_path / "catalog.json"
        assert catalog(database_url, tmp_path, "export", str(exported)).returncode == 0
        entries = json.loads(exported.read_text())
        entries[0]["credits"] = 14
        exported.write_text(json.dumps(entries))

        imported = catalog(database_url, tmp_path, "import", str(exported))

        assert imported.returncode == 0, imported.stderr
        assert imported.stdout.strip() == f"changed {FLUX}: credits 12 -> 14"
        await served_within(server.graphql_url, lambda m: m[FLUX]["pricing"]["credits"] == 14)


async def test_a_bad_file_is_refused_whole(database_url: str, tmp_path: Path) -> None:
    exported = tmp_path / "catalog.json"
    assert catalog(database_url, tmp_path, "export", str(exported)).returncode == 0
    entries = json.loads(exported.read_text())
    entries[0]["credits"] = 99
    entries[5]["pricing"] = {"unit": "PER_PIXEL"}
    exported.write_text(json.dumps(entries))

    refused = catalog(database_url, tmp_path, "import", str(exported))
    after = catalog(database_url, tmp_path, "export")

    assert refused.returncode != 0
    assert "catalog entry 5 ('fal-ai/aura-flow')" in refused.stderr
    assert json.loads(after.stdout)[0]["credits"] == 12


async def test_set_deprecates_and_reprices_on_a_running_server(
    database_url: str, tmp_path: Path
) -> None:
    async with server_factory(database_url, tmp_path / "home") as start:
        server = await start(worker=False)

        changed = catalog(database_url, tmp_path, "set", FLUX, "--credits", "15", "--deprecated")

        assert changed.stdout.strip() == (
            f"changed {FLUX}: credits 12 -> 15, deprecated False -> True"
        )
        await served_within(
            server.graphql_url,
            lambda m: m[FLUX]["deprecated"] and m[FLUX]["pricing"]["credits"] == 15,
        )
