"""Real `velro-graphql serve` processes on a test database, for end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx

from tests.factories import TEST_JWT_SECRET

# Fast enough that a whole lifecycle takes about a second, slow enough to observe each state.
FAST_SIMULATOR = {
    "SIMULATOR_QUEUE_SECONDS": "0.3",
    "SIMULATOR_RUN_SECONDS": "0.6",
    "PROVIDER_POLL_SECONDS": "0.1",
    "WORKER_IDLE_SECONDS": "0.1",
}


class ServerProcess:
    """One `velro-graphql serve` subprocess listening on 127.0.0.1:`port`."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def terminate(self) -> None:
        """Ask for a graceful shutdown (the worker gives back its leases)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 15) -> None:
        """Wait for the process to exit; kill it if it hangs."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        self.terminate()
        self.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(database_url: str, home: Path, port: int, **extra: str) -> dict[str, str]:
    """The environment of a server on `database_url` that trusts tests.factories' tokens."""
    return {
        **os.environ,
        **FAST_SIMULATOR,
        "DATABASE_URL": database_url,
        "SUPABASE_JWT_SECRET": TEST_JWT_SECRET,
        "VELRO_HOME": str(home),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        **extra,
    }


def spawn_server(
    database_url: str, home: Path, *, worker: bool = True, env: dict[str, str] | None = None
) -> ServerProcess:
    """Start `velro-graphql serve` without waiting for it; see `wait_healthy`."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    log = home / f"serve-{port}.log"
    command = [sys.executable, "-m", "velro_graphql", "serve", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, *([] if worker else ["--no-worker"])],
            env=server_env(database_url, home, port, **(env or {})),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return ServerProcess(process, port, log)


async def wait_healthy(server: ServerProcess, timeout: float = 20) -> None:
    """Poll GET /health until it answers 200; fail with the server's log if it never does."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=1) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                break
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"{server.url}/health")).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    server.stop()
    raise RuntimeError(f"server on port {server.port} did not start:\n{server.log_tail()}")


ServerFactory = Callable[..., Awaitable[ServerProcess]]


@contextlib.asynccontextmanager
async def server_factory(database_url: str, home: Path) -> AsyncIterator[ServerFactory]:
    """Start servers on demand (`await start(worker=False, env={...})`); stop them all after."""
    started: list[ServerProcess] = []

    async def start(*, worker: bool = True, env: dict[str, str] | None = None) -> ServerProcess:
        server = spawn_server(database_url, home, worker=worker, env=env)
        started.append(server)
        await wait_healthy(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.terminate()
        for server in started:
            server.wait()
