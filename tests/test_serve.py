"""`serve` around uvicorn: a taken port said first, forwarded headers, the ready line."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.server import free_port
from velro_graphql import serving
from velro_graphql.config import Settings

FORWARDED = {"x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https"}


def test_a_taken_port_is_reported_before_the_database_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PORT")}
        command = [sys.executable, "-m", "velro_graphql", "serve", "--port", str(port)]
        done = subprocess.run(
            command,
            env={**env, "VELRO_HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert f"127.0.0.1:{port}" in done.stderr and "--port" in done.stderr
    assert not (tmp_path / "pgdata").exists()


async def echo_client(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app answering with the client address and scheme uvicorn gave it."""
    if scope["type"] != "http":
        return
    body = f"{scope['client'][0]} {scope['scheme']}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def serving_echo(settings: Settings) -> AsyncIterator[str]:
    port = free_port()
    config = serving.server_config(echo_client, settings, host="127.0.0.1", port=port)
    config.lifespan = "off"
    server = serving.Server(config, ready_line="ready")
    task = asyncio.create_task(server.serve(sockets=[serving.take_port("127.0.0.1", port)]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        await task


async def seen_by_the_app(settings: Settings) -> str:
    async with serving_echo(settings) as url, httpx.AsyncClient() as client:
        return (await client.get(url, headers=FORWARDED)).text


async def test_forwarded_headers_are_ignored_unless_the_proxy_is_allowed(
    tmp_path: Path,
) -> None:
    assert await seen_by_the_app(Settings(velro_home=tmp_path)) == "127.0.0.1 http"
    allowed = Settings(velro_home=tmp_path, forwarded_allow_ips="127.0.0.1")  # type: ignore[arg-type]
    assert await seen_by_the_app(allowed) == "203.0.113.7 https"


def test_the_ready_line_says_where_what_and_how_to_get_a_token(tmp_path: Path) -> None:
    line = serving.ready_line(Settings(velro_home=tmp_path), host="0.0.0.0", port=8123)
    assert "GraphiQL at http://127.0.0.1:8123/graphql" in line
    assert f"embedded PostgreSQL under {tmp_path / 'pgdata'}" in line
    assert "simulator" in line
    assert f"VELRO_HOME={tmp_path} " in line and "token --email" in line


def test_the_ready_line_of_a_configured_server_names_no_local_paths(tmp_path: Path) -> None:
    settings = Settings(
        velro_home=tmp_path,
        database_url="postgresql://db/velro",
        supabase_url="https://x.supabase.co",
        supabase_service_role_key="k" * 40,
        fal_key="f" * 20,
    )
    line = serving.ready_line(settings, host="0.0.0.0", port=80)
    assert str(tmp_path) not in line
    assert "Supabase Storage" in line and "fal" in line and "Supabase Auth" in line
