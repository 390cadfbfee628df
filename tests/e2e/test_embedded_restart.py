"""The embedded PostgreSQL after a `kill -9` of its server: adopted, then stopped with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.e2e.server import ServerProcess, free_port, wait_healthy

CONFIGURATION = ("DATABASE_URL", "SUPABASE_URL", "SUPABASE_JWT_SECRET", "FAL_KEY", "PORT")


def spawn_embedded(home: Path, log: Path) -> ServerProcess:
    env = {k: v for k, v in os.environ.items() if k not in CONFIGURATION}
    port = free_port()
    command = [sys.executable, "-m", "velro_graphql", "serve", "--no-worker", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env={**env, "VELRO_HOME": str(home)}, stdout=out, stderr=subprocess.STDOUT
        )
    return ServerProcess(process, port, log)


def postgres_pid(home: Path) -> int | None:
    """The embedded server's pid while it runs, else None."""
    pid_file = home / "pgdata" / "postmaster.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


async def test_a_database_left_by_a_killed_server_is_adopted_and_stopped(
    embedded_home: Path, tmp_path: Path
) -> None:
    home = embedded_home
    try:
        await kill_then_restart(home, tmp_path)
    finally:
        if (left := postgres_pid(home)) is not None:  # the test failed: leave nothing running
            os.kill(left, signal.SIGTERM)


async def kill_then_restart(home: Path, tmp_path: Path) -> None:
    first = spawn_embedded(home, tmp_path / "first.log")
    await wait_healthy(first, timeout=60)
    first.process.send_signal(signal.SIGKILL)
    first.wait()
    left_running = postgres_pid(home)
    assert left_running is not None

    second = spawn_embedded(home, tmp_path / "second.log")
    await wait_healthy(second, timeout=60)
    assert postgres_pid(home) == left_running  # adopted, not a second server
    second.process.send_signal(signal.SIGINT)
    second.wait()
    assert second.process.returncode == 0, second.log_tail()
    assert postgres_pid(home) is None, second.log_tail()
    assert "velro-graphql ready: GraphiQL at" in second.log.read_text()
