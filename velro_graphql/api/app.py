"""The application factory: builds everything at start-up, nothing at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.types.unset import UnsetType

from velro_graphql.api.auth import bearer_token
from velro_graphql.api.context import Context, Services
from velro_graphql.api.routes import router
from velro_graphql.api.schema import build_schema
from velro_graphql.api.startup import open_services
from velro_graphql.config import Settings
from velro_graphql.entities import Caller
from velro_graphql.errors import Unauthenticated
from velro_graphql.services import users


async def authenticate(services: Services, authorization: str | None) -> Context:
    """Build the operation's context from the Authorization header value."""
    try:
        caller = await verify_caller(services, authorization)
    except Unauthenticated as error:
        return Context(services, caller=None, auth_error=error)
    return Context(services, caller=caller)


async def verify_caller(services: Services, authorization: str | None) -> Caller | None:
    """The caller a header names (None without one); provisions a first sign-in."""
    token = bearer_token(authorization)
    if authorization and token is None:
        raise Unauthenticated("Malformed Authorization header: expected `Bearer <token>`.")
    if token is None:
        return None
    caller = await services.verifier.verify(token)
    await users.ensure_user(
        services.pool,
        caller.user_id,
        caller.email,
        known=services.known_users,
        create_auth_user=services.creates_auth_users,
    )
    return caller


class VelroGraphQLRouter(GraphQLRouter[Context, None]):
    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate a WebSocket at connection_init, from its `Authorization` parameter."""
        params: dict[str, Any] = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        if header is None and isinstance(params.get("authToken"), str):
            header = f"Bearer {params['authToken']}"
        try:
            caller = await verify_caller(context.services, header)
        except Unauthenticated as error:
            raise ConnectionRejectionError({"code": error.code, "message": error.message}) from None
        if caller is None:
            raise ConnectionRejectionError(
                {"code": "UNAUTHENTICATED", "message": "Send Authorization in connection_init."}
            )
        context.set_caller(caller)
        return None


def create_app(settings: Settings, *, run_worker: bool = False) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services(settings, run_worker=run_worker) as services:
            app.state.services = services
            yield

    async def get_context(request: Request = None, ws: WebSocket = None) -> Context:  # type: ignore[assignment]
        if ws is not None:
            return Context(ws.app.state.services, caller=None)
        return await authenticate(request.app.state.services, request.headers.get("authorization"))

    app = FastAPI(title="velro-graphql", lifespan=lifespan, docs_url=None, redoc_url=None)
    graphql = VelroGraphQLRouter(build_schema(), context_getter=get_context, graphql_ide="graphiql")
    app.include_router(graphql, prefix="/graphql")
    app.include_router(router)
    return app
