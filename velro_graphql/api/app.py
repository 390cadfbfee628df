"""The application factory: builds everything at start-up, nothing at import."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from cross_web import HTTPException
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from velro_graphql.api.auth import bearer_token
from velro_graphql.api.collector import FreezeSurvivors
from velro_graphql.api.compiled import PreEncodedJSON
from velro_graphql.api.compiled_http import CompiledHTTP, may_answer
from velro_graphql.api.context import AppState, Context
from velro_graphql.api.graphiql import ROUTE, asset_endpoint, default_assets_dir, render_page
from velro_graphql.api.http import error_body, install_edges, with_edges
from velro_graphql.api.live.endpoint import serve_websocket
from velro_graphql.api.live.fanout import open_fanout
from velro_graphql.api.routes import router
from velro_graphql.api.schema import build_schema
from velro_graphql.api.startup import open_app_state
from velro_graphql.config import Settings
from velro_graphql.entities import Caller
from velro_graphql.errors import Unauthenticated
from velro_graphql.services import users


async def context_for_request(services: AppState, request: Request) -> Context:
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


async def verify_caller(services: AppState, authorization: str | None) -> Caller | None:
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
        # Supabase's anonymous sign-ins are `authenticated` too; free credits for each would
        # be free money for scripts.
        welcome_credits=caller.claims.get("is_anonymous") is not True,
    )
    return caller


class VelroGraphQL(GraphQL[Context, None]):
    """GraphQL over HTTP as a plain ASGI app: FastAPI's dependency injection, which strawberry's
    router runs on every request, cost as much CPU as the compiled dashboard query itself."""

    ide_page = ""  # GraphiQL, served by this server (api/graphiql.py)
    compiled_http: CompiledHTTP | None = None  # with COMPILED_READS on

    @property
    def graphql_ide_html(self) -> str:
        return self.ide_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strawberry's HTTP handling, with its plain-text refusals (malformed JSON, a mutation
        over GET, ...) answered as GraphQL errors that clients and GraphiQL can read."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        if await self._compiled(request, send):
            return
        try:
            response = await self.run(request)
        except HTTPException as error:
            response = refusal(error.status_code, error.reason)
        await response(scope, receive, send)

    async def _compiled(self, request: Request, send: Send) -> bool:
        """Answer a compiled read (True); else strawberry gets the same context (and the body,
        which stays on the request)."""
        compiled = self.compiled_http
        if compiled is None or request.method != "POST" or not may_answer(request.scope["headers"]):
            return False
        context = await context_for_request(request.app.state.services, request)
        request.state.context = context
        body = await compiled.answer(context, await request.body())
        if body is None:
            return False
        try:
            await _send_json(send, body)
        finally:  # after the answer: a read's COMMIT changes nothing the client waits for
            await context.close()
        return True

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        assert isinstance(request, Request)  # WebSockets are served by the live fan-out
        context: Context | None = getattr(request.state, "context", None)
        if context is None:
            context = await context_for_request(request.app.state.services, request)
        context.response = response
        return context

    def encode_json(self, data: object) -> str | bytes:
        """Responses through orjson (a third of the CPU of a compiled read went to json.dumps);
        json for the rare value it refuses (integers past 64 bits in a JSON scalar)."""
        if isinstance(data, dict) and isinstance(data.get("data"), PreEncodedJSON):
            return _splice(data)
        try:
            return orjson.dumps(data)
        except TypeError:
            return json.dumps(data, separators=(",", ":"))

    def decode_json(self, data: str | bytes) -> object:
        """Refuse, as strawberry does malformed JSON, the JSON it would fail on with a 500."""
        try:
            decoded = json.loads(data)
        except (RecursionError, UnicodeDecodeError):
            raise HTTPException(400, "Unable to parse request body as JSON") from None
        except ValueError:  # an integer past Python's 4,300 digits
            raise HTTPException(400, "Unable to parse request body as JSON") from None
        if not isinstance(decoded, dict | list):
            raise HTTPException(400, "Expected a JSON object.")
        return decoded


async def _send_json(send: Send, body: bytes) -> None:
    headers = [(b"content-length", b"%d" % len(body)), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def refusal(status: int, reason: str) -> Response:
    """A request refused before execution, in the shape of a GraphQL error."""
    code = "NOT_FOUND" if status == 404 else "BAD_USER_INPUT"
    if status == 404:  # a browser's GET while GraphiQL is off
        reason = "GraphiQL is off on this server (GRAPHIQL=true serves it); POST queries here."
    headers = {"allow": "GET, POST"} if status == 405 else None
    body = error_body(reason, code)
    return Response(body, status_code=status, headers=headers, media_type="application/json")


async def index(request: Request) -> JSONResponse:
    """What `GET /` answers: where the API is, for someone who opened the bare address."""
    return JSONResponse({"graphql": "/graphql", "health": "/health", "ready": "/ready"})


def _splice(response: dict[str, Any]) -> bytes:
    """Encode a response whose `data` Postgres already encoded."""
    rest = {key: value for key, value in response.items() if key != "data"}
    data: PreEncodedJSON = response["data"]
    head = b'{"data":' + data.encode()
    return head + (b"," + orjson.dumps(rest)[1:] if rest else b"}")


class VelroApp(FastAPI):
    """GraphQL over HTTP goes from uvicorn straight to its endpoint through the HTTP edges
    (api/http.py): the router and FastAPI's five other layers cost a sixth of the CPU of a
    `{ __typename }`. WebSockets on /graphql go straight to the live fan-out, which checks
    their origin itself: the layers' frames would stay on every open connection's stack, a few
    KiB each, and wrap every message. Everything else takes the full stack."""

    graphql_http: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope["path"] in _GRAPHQL_PATHS:
            scope["app"] = self
            if scope["type"] == "websocket":
                await serve_websocket(WebSocket(scope, receive, send))
                return
            if self.graphql_http is not None:
                await self.graphql_http(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


# `/graphql/` is served, not redirected: a redirect would re-send a POST to a URL built
# from the proxy's headers. Every method reaches strawberry, which refuses others as GraphQL.
_GRAPHQL_PATHS = ("/graphql", "/graphql/")


def create_app(settings: Settings, *, run_worker: bool = False, freeze_gc: bool = False) -> FastAPI:
    """The app; with `freeze_gc` (for `serve`), what start-up built and what survives each full
    collection is frozen (api/collector.py)."""
    schema = build_schema(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            open_app_state(settings, run_worker=run_worker) as services,
            open_fanout(schema, services, verify_caller) as fanout,
        ):
            app.state.services = services
            app.state.fanout = fanout
            collector = FreezeSurvivors()
            if freeze_gc:
                collector.install()
            try:
                yield
            finally:
                collector.remove()

    app = VelroApp(title="velro-graphql", lifespan=lifespan, docs_url=None, redoc_url=None)
    # Before the GraphQL router: WebSockets on /graphql are served by the live fan-out.
    graphql = VelroGraphQL(
        schema,
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
        subscription_protocols=(),
    )
    assets = default_assets_dir()
    graphql.ide_page = render_page(assets)
    if settings.compiled_reads:
        graphql.compiled_http = CompiledHTTP(schema._schema, schema.admission)
    app.router.routes.append(Route(ROUTE, asset_endpoint(assets), methods=["GET"]))
    app.graphql_http = with_edges(graphql, settings)
    app.router.routes.append(Route("/", index, methods=["GET"]))
    app.include_router(router)
    install_edges(app, settings)
    return app
