"""The application factory: builds everything at start-up, nothing at import."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse
from strawberry.fastapi import GraphQLRouter

from velro_graphql.api.auth import TokenVerifier, bearer_token
from velro_graphql.api.context import Context, Services
from velro_graphql.api.schema import build_schema
from velro_graphql.config import Settings
from velro_graphql.db import models, profiles
from velro_graphql.db.database import open_pool
from velro_graphql.db.session import as_service
from velro_graphql.errors import Unauthenticated
from velro_graphql.services import users
from velro_graphql.services.catalog import load_catalog

log = logging.getLogger("velro_graphql")


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """Start what the API stands on: the database (migrated), the catalog, token checks."""
    settings.check()
    catalog = load_catalog()
    async with open_pool(settings) as pool:
        async with as_service(pool) as conn:
            await models.mirror(conn, catalog)
            supabase_auth = await profiles.auth_users_are_supabases(conn)
        yield Services(
            settings=settings,
            pool=pool,
            verifier=make_verifier(settings),
            catalog=catalog,
            provider_name="fal" if settings.fal_key else "simulator",
            creates_auth_users=not supabase_auth,
        )


def make_verifier(settings: Settings) -> TokenVerifier:
    secret = settings.local_jwt_secret() if settings.embedded else settings.supabase_jwt_secret
    return TokenVerifier(
        hs256_secret=secret, jwks_url=settings.resolved_jwks_url, issuer=settings.jwt_issuer
    )


async def authenticate(services: Services, authorization: str | None) -> Context:
    """Build the operation's context from the Authorization header value."""
    token = bearer_token(authorization)
    if authorization and token is None:
        return Context(services, caller=None, auth_error=Unauthenticated("Malformed bearer."))
    if token is None:
        return Context(services, caller=None)
    try:
        caller = await services.verifier.verify(token)
    except Unauthenticated as error:
        return Context(services, caller=None, auth_error=error)
    await users.ensure_user(
        services.pool,
        caller.user_id,
        caller.email,
        known=services.known_users,
        create_auth_user=services.creates_auth_users,
    )
    return Context(services, caller=caller)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services(settings) as services:
            app.state.services = services
            yield

    async def get_context(request: Request = None, ws: WebSocket = None) -> Context:  # type: ignore[assignment]
        connection = request if request is not None else ws
        services: Services = connection.app.state.services
        return await authenticate(services, connection.headers.get("authorization"))

    app = FastAPI(title="velro-graphql", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.include_router(
        GraphQLRouter(build_schema(), context_getter=get_context, graphql_ide="graphiql"),
        prefix="/graphql",
    )

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready(request: Request) -> JSONResponse:
        services: Services = request.app.state.services
        checks = {"database": await _database_ready(services)}
        ok = all(checks.values())
        return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

    return app


async def _database_ready(services: Services) -> bool:
    try:
        async with services.pool.acquire(timeout=2) as conn:
            return bool(await conn.fetchval("SELECT 1", timeout=2))
    except Exception:
        log.warning("readiness: database check failed", exc_info=True)
        return False
