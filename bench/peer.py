"""PostGraphile 5 as a peer of `velro-graphql serve`: its server, its dashboard, plain values.

The dashboard of `bench/dashboard.py` asked of PostGraphile in its own schema's words, and both
responses mapped to the same plain values so that the comparison can check it compares like
with like. Needs `npm ci` in `bench/postgraphile` (see bench/README.md).
"""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
from harness import JWT_SECRET, Server, free_port, run_server

PEER_DIR = Path(__file__).resolve().parent / "postgraphile"
# PostGraphile 5 needs Node 22; `npm ci` installs it there (the `node` package).
NODE = PEER_DIR / "node_modules" / ".bin" / "node"
# PostGraphile's root has no "me": a bench-only function (never a migration) gives it one.
CURRENT_PROFILE = """
CREATE SCHEMA IF NOT EXISTS postgraphile_bench;
GRANT USAGE ON SCHEMA postgraphile_bench TO authenticated;
CREATE OR REPLACE FUNCTION postgraphile_bench.current_profile() RETURNS public.profiles
LANGUAGE sql STABLE AS $$ SELECT * FROM public.profiles WHERE id = auth.uid() $$;
GRANT EXECUTE ON FUNCTION postgraphile_bench.current_profile() TO authenticated;
"""
# The same 545 values as bench/dashboard.py's DASHBOARD, in the same order of pages.
DASHBOARD = """query Dashboard {
  postgraphileBenchCurrentProfile {
    email creditsBalance
    projectsByUserId(first: 10, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node {
        id name generationCount
        generationsByProjectId(first: 10, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) {
          totalCount edges { node { id status modelId prompt cost } }
        }
      } }
    }
  }
}"""


def installed() -> bool:
    return NODE.exists() and (PEER_DIR / "node_modules" / "postgraphile").is_dir()


async def prepare(dsn: str) -> None:
    """Give the database the bench-only root field PostGraphile needs."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(CURRENT_PROFILE)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def serve_postgraphile(dsn: str, home: Path) -> AsyncIterator[Server]:
    """Run PostGraphile 5 (bench/postgraphile/server.mjs) on `dsn` until the block ends."""
    port = free_port()
    env = {
        "DATABASE_URL": dsn,
        "SUPABASE_JWT_SECRET": JWT_SECRET,
        "PORT": str(port),
        "NODE_ENV": "production",
    }
    command = [str(NODE), str(PEER_DIR / "server.mjs")]
    async with run_server(command, env, home / f"postgraphile-{port}.log", port) as server:
        yield server


def ours_values(data: dict[str, Any]) -> dict[str, Any]:
    """velro-graphql's dashboard response as plain values."""
    me = data["me"]
    return _values(me, me["projects"], "generations", _uuid_of_relay_id)


def postgraphile_values(data: dict[str, Any]) -> dict[str, Any]:
    """PostGraphile's dashboard response as the same plain values as `ours_values`."""
    me = data["postgraphileBenchCurrentProfile"]
    return _values(me, me["projectsByUserId"], "generationsByProjectId", _uuid_of_node_id)


def _values(
    me: dict[str, Any],
    projects: dict[str, Any],
    generations: str,
    uuid_of: Callable[[str], uuid.UUID],
) -> dict[str, Any]:
    def generation(node: dict[str, Any]) -> dict[str, Any]:
        fields = ("status", "modelId", "prompt", "cost")
        return {"id": uuid_of(node["id"]), **{name: node[name] for name in fields}}

    def project(node: dict[str, Any]) -> dict[str, Any]:
        page = node[generations]
        return {
            "id": uuid_of(node["id"]),
            "name": node["name"],
            "generationCount": node["generationCount"],
            "totalCount": page["totalCount"],
            "generations": [generation(edge["node"]) for edge in page["edges"]],
        }

    return {
        "email": me["email"],
        "creditsBalance": me["creditsBalance"],
        "totalCount": projects["totalCount"],
        "hasNextPage": projects["pageInfo"]["hasNextPage"],
        "projects": [project(edge["node"]) for edge in projects["edges"]],
    }


def _uuid_of_relay_id(global_id: str) -> uuid.UUID:
    # Ours: base64 of "Type:uuid".
    return uuid.UUID(base64.b64decode(global_id).decode().split(":", 1)[1])


def _uuid_of_node_id(node_id: str) -> uuid.UUID:
    # PostGraphile's: base64 of the JSON list ["Type", "uuid"].
    return uuid.UUID(json.loads(base64.b64decode(node_id))[-1])
