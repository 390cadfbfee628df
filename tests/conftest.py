"""Shared fixtures: a real PostgreSQL (embedded unless VELRO_TEST_DATABASE_URL), one fresh
database per test cloned from a migrated template, and helpers that build data."""

from __future__ import annotations

import dataclasses
import itertools
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.factories import TEST_JWT_SECRET, make_caller
from velro_graphql.api.context import AppState, Context
from velro_graphql.api.schema import build_schema
from velro_graphql.api.startup import open_app_state
from velro_graphql.config import Settings
from velro_graphql.db.embedded import start_embedded, with_database
from velro_graphql.db.migrate import migrate
from velro_graphql.db.pool import create_pool
from velro_graphql.services.users import ensure_user

TEMPLATE = "velro_template"
_counter = itertools.count()


@pytest.fixture(scope="session")
def admin_dsn() -> Iterator[str]:
    configured = os.environ.get("VELRO_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    home = Path(tempfile.mkdtemp(prefix="velro-test-"))
    server, dsn = start_embedded(home, cleanup_mode="delete")
    yield dsn
    server.cleanup()


@pytest.fixture(scope="session")
async def template_dsn(admin_dsn: str) -> str:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        await conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    finally:
        await conn.close()
    dsn = with_database(admin_dsn, TEMPLATE)
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return dsn


@pytest.fixture
async def database_url(admin_dsn: str, template_dsn: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    name = f"velro_test_{os.getpid()}_{next(_counter)}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        yield with_database(admin_dsn, name)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def instant(settings: Settings, **overrides: Any) -> Settings:
    """`settings` with a simulator that finishes at once and a worker that never idles long."""
    quick = {
        "simulator_queue_seconds": 0.0,
        "simulator_run_seconds": 0.0,
        "provider_poll_seconds": 0.0,
        "worker_idle_seconds": 0.05,
        "worker_housekeeping_seconds": 0.1,
    }
    return settings.model_copy(update=quick | overrides)


@asynccontextmanager
async def counting_statements(services: AppState) -> AsyncIterator[tuple[AppState, list[str]]]:
    """A copy of `services` on a one-connection pool whose every statement is recorded."""
    statements: list[str] = []
    pool = await create_pool(services.settings.database_url or "", size=1)
    try:
        async with pool.acquire() as conn:
            conn.add_query_logger(lambda logged: statements.append(logged.query))
        runtime = dataclasses.replace(services.runtime, pool=pool)
        yield dataclasses.replace(services, runtime=runtime), statements
    finally:
        await pool.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        velro_home=tmp_path / "home",
        supabase_jwt_secret=TEST_JWT_SECRET,
    )


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[AppState]:
    async with open_app_state(settings) as opened:
        yield opened


@pytest.fixture(scope="session")
def schema() -> Any:
    return build_schema()


class Client:
    """Runs operations through the schema as a given user, like one HTTP request each."""

    def __init__(self, schema: Any, services: AppState) -> None:
        self.schema = schema
        self.services = services

    async def user(self, email: str) -> Any:
        caller = make_caller(email)
        async with self.services.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO auth.users (id, email) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                caller.user_id,
                email,
            )
        await ensure_user(
            self.services.pool,
            caller.user_id,
            email,
            known=self.services.known_users,
            create_auth_user=False,
        )
        return caller

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, *, caller: Any = None
    ) -> Any:
        context = Context(self.services, caller=caller)
        return await self.schema.execute(query, variable_values=variables, context_value=context)


@pytest.fixture
def client(schema: Any, services: AppState) -> Client:
    return Client(schema, services)


@asynccontextmanager
async def app_client(settings: Settings, **app_options: Any) -> AsyncIterator[Any]:
    """An httpx client talking to the whole app (lifespan included) in-process."""
    import httpx

    from velro_graphql.api.app import create_app

    app = create_app(settings, **app_options)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http_client:
            http_client.app = app  # type: ignore[attr-defined]
            yield http_client


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[Any]:
    async with app_client(settings) as client:
        yield client


@pytest.fixture(scope="session")
def fal_server() -> Iterator[Any]:
    """The fake fal queue server, with the real fal-client pointed at it for the session."""
    from tests.fakes.fal_server import fast_fal_retries, pointed_at, serve_fake_fal

    with serve_fake_fal() as fake, pointed_at(fake), fast_fal_retries():
        yield fake


@pytest.fixture
def fake(fal_server: Any) -> Any:
    """The fake fal, with no jobs, scripts or faults left from an earlier test."""
    fal_server.reset()
    return fal_server
