"""What the benchmarks share: a temporary embedded Postgres, `serve` subprocesses, tokens, stats.

Not a test module: each `bench/*.py` script imports it (they run as `python bench/<name>.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from velro_graphql.api.auth import mint_token
from velro_graphql.db.database import run_migrations
from velro_graphql.db.embedded import ensure_database, start_embedded

JWT_SECRET = secrets.token_urlsafe(48)
# Benchmarks measure the server, not its abuse limits.
NO_RATE_LIMITS = {
    "RATE_LIMIT_OPERATIONS_PER_MINUTE": "100000000",
    "RATE_LIMIT_GENERATIONS_PER_MINUTE": "100000000",
}


@dataclass(frozen=True)
class Postgres:
    admin_dsn: str
    home: Path
    pid: int

    def cpu_seconds(self) -> float:
        """CPU used so far by the postmaster and its live backends."""
        return process_tree_cpu_seconds(self.pid)


@contextlib.contextmanager
def temporary_postgres() -> Iterator[Postgres]:
    """A throwaway embedded Postgres, with a work directory beside its data."""
    home = Path(tempfile.mkdtemp(prefix="velro-bench-"))
    server, admin_dsn = start_embedded(home, cleanup_mode="delete")
    try:
        yield Postgres(admin_dsn, home, server.get_pid())
    finally:
        server.cleanup()
        shutil.rmtree(home, ignore_errors=True)


def process_tree_cpu_seconds(pid: int) -> float:
    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


async def migrated_database(admin_dsn: str, name: str) -> str:
    """Create database `name` on the server and migrate it; return its DSN."""
    dsn = await ensure_database(admin_dsn, name)
    await run_migrations(dsn)
    return dsn


def token(email: str) -> str:
    return mint_token(secret=JWT_SECRET, email=email, ttl_seconds=24 * 3600, issuer=None)


def bearer(email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(email)}"}


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def cpu_seconds(self) -> float:
        return process_tree_cpu_seconds(self.process.pid)

    def rss_kib(self) -> int:
        """The server's resident set size (VmRSS), in KiB."""
        return self._status_kib("VmRSS")

    def peak_rss_kib(self) -> int:
        """The most the server has held resident since it started (VmHWM), in KiB."""
        return self._status_kib("VmHWM")

    def _status_kib(self, field: str) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise RuntimeError(f"no {field} for the server process")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serve(
    dsn: str, home: Path, *, worker: bool = False, env: dict[str, str] | None = None
) -> AsyncIterator[Server]:
    """Run `velro-graphql serve` on `dsn` until the block ends (SIGTERM, then wait)."""
    port = free_port()
    command = [sys.executable, "-m", "velro_graphql", "serve", "--port", str(port)]
    environ = {
        **NO_RATE_LIMITS,
        "DATABASE_URL": dsn,
        "SUPABASE_JWT_SECRET": JWT_SECRET,
        "VELRO_HOME": str(home / f"serve-{port}"),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        **(env or {}),
    }
    command += [] if worker else ["--no-worker"]
    async with run_server(command, environ, home / f"serve-{port}.log", port) as server:
        yield server


@contextlib.asynccontextmanager
async def run_server(
    command: list[str], env: dict[str, str], log: Path, port: int
) -> AsyncIterator[Server]:
    """Run an HTTP server process (on `port`, answering `GET /health`) until the block ends."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(process, port)
    try:
        await _wait_healthy(server, log)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _wait_healthy(server: Server, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=1) as client:
        while time.monotonic() < deadline and server.process.poll() is None:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"{server.url}/health")).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"the server did not start; its log:\n{log.read_text()[-4000:]}")


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100), nearest rank."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def latency_summary(seconds: Sequence[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"median {statistics.median(ms):.1f} ms, p95 {percentile(ms, 95):.1f} ms, "
        f"p99 {percentile(ms, 99):.1f} ms, max {max(ms):.1f} ms (n={len(ms)})"
    )


@dataclass(frozen=True)
class Wrk:
    """What wrk measured: its latencies are not corrected for coordinated omission."""

    rate: float
    requests: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    socket_errors: str | None

    def summary(self) -> str:
        errors = f"; {self.socket_errors}" if self.socket_errors else ""
        return (
            f"wrk; median {self.p50_ms:.2f}ms, p90 {self.p90_ms:.2f}ms, "
            f"p99 {self.p99_ms:.2f}ms{errors}"
        )


_WRK_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


async def run_wrk(url: str, *, body: str, token: str, connections: int, seconds: float) -> Wrk:
    """POST `body` to `url` from wrk (C, one thread) with `connections` keep-alive connections.

    A Python load generator on the same 2 cores takes more CPU than the server does; wrk leaves
    the cores to the server. Any non-2xx reply fails the run.
    """
    script = (
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
        done = await asyncio.to_thread(
            subprocess.run, [*command, "-s", lua.name, url], capture_output=True, text=True
        )
    if done.returncode != 0 or "Non-2xx" in done.stdout:
        raise RuntimeError(f"wrk failed:\n{done.stdout}{done.stderr}")
    return _parse_wrk(done.stdout)


def _parse_wrk(out: str) -> Wrk:
    def ms(percent: str) -> float:
        value, unit = _search(rf"^\s+{percent}%\s+([\d.]+)(\w+)\s*$", out).groups()
        return float(value) * _WRK_UNITS_MS[unit]

    errors = re.search(r"Socket errors:.*", out)
    return Wrk(
        rate=float(_search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        requests=int(_search(r"(\d+) requests in", out).group(1)),
        p50_ms=ms("50"),
        p90_ms=ms("90"),
        p99_ms=ms("99"),
        socket_errors=errors.group(0) if errors else None,
    )


def _search(pattern: str, out: str) -> re.Match[str]:
    found = re.search(pattern, out, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    return found


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}"
    )
