"""The application factory: builds everything at start-up, nothing at import."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from cross_web import HTTPException
from fastapi import FastAPI, Request, WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.types.unset import UnsetType

from velro_graphql.api.auth import bearer_token
from velro_graphql.api.context import Context, Services
from velro_graphql.api.http import install_edges, origin_allowed
from velro_graphql.api.routes import router
from velro_graphql.api.schema import build_schema
from velro_graphql.api.startup import open_services
from velro_graphql.config import Settings
from velro_graphql.entities import Caller
from velro_graphql.errors import Unauthenticated
from velro_graphql.services import users


async def context_for_request(services: Services, request: Request) -> Context:
    """Build an HTTP operation's context: who calls (from the bearer token) and from where."""
    request_id: str | None = getattr(request.state, "request_id", None)
    address = request.client.host if request.client else None
    try:
        caller = await verify_caller(services, request.headers.get("authorization"))
    except Unauthenticated as error:
        return Context(
            services, caller=None, auth_error=error, request_id=request_id, client_address=address
        )
    return Context(services, caller=caller, request_id=request_id, client_address=address)


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
    def decode_json(self, data: str | bytes) -> object:
        """Refuse, as strawberry does malformed JSON, the JSON it would fail on with a 500."""
        try:
            decoded = json.loads(data)
        except (RecursionError, UnicodeDecodeError):
            raise HTTPException(400, "Unable to parse request body as JSON") from None
        if not isinstance(decoded, dict | list):
            raise HTTPException(400, "Expected a JSON object.")
        return decoded

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate a WebSocket at connection_init, from its `Authorization` parameter."""
        request = context.request
        assert request is not None
        if not origin_allowed(
            request.headers.get("origin"), request.headers.get("host"), context.services.settings
        ):
            raise ConnectionRejectionError({"code": "FORBIDDEN", "message": "Origin not allowed."})
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
        await context.services.rate_limits.spend(
            context.services.rate_limits.operations, context.rate_limit_key
        )
        return None


def create_app(settings: Settings, *, run_worker: bool = False) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services(settings, run_worker=run_worker) as services:
            app.state.services = services
            yield

    async def get_context(request: Request = None, ws: WebSocket = None) -> Context:  # type: ignore[assignment]
        if ws is not None:
            address = ws.client.host if ws.client else None
            return Context(ws.app.state.services, caller=None, client_address=address)
        return await context_for_request(request.app.state.services, request)

    app = FastAPI(title="velro-graphql", lifespan=lifespan, docs_url=None, redoc_url=None)
    graphql = VelroGraphQLRouter(
        build_schema(settings),
        context_getter=get_context,
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
    )
    app.include_router(graphql, prefix="/graphql")
    app.include_router(router)
    install_edges(app, settings)
    return app
