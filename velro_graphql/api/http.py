"""HTTP edges: request ids, body size limit, security headers, CORS."""

from __future__ import annotations

import itertools
import json
import re
import secrets
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from velro_graphql.config import Settings

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class BodyTooLarge(Exception):
    pass


class Edges:
    """One ASGI middleware for what every HTTP request gets before the app sees it."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # Request ids need to be unique, not secret: a random prefix and a counter instead of
        # a uuid4 (a getrandom call) a request.
        self._prefix = secrets.token_hex(8)
        self._count = itertools.count()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope) or f"{self._prefix}{next(self._count):016x}"
        scope.setdefault("state", {})["request_id"] = request_id
        if _is_signed_upload(scope):  # streamed under its own signed cap (services/files.py)
            await self.app(scope, receive, _with_headers(send, request_id))
            return
        if _declared_length(scope) > self.max_body_bytes:
            await _too_large(send, self.max_body_bytes)
            return
        try:
            await self.app(scope, self._limited(receive), _with_headers(send, request_id))
        except BodyTooLarge:
            await _too_large(send, self.max_body_bytes)

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body_bytes:
                raise BodyTooLarge
            return message

        return limited


def _is_signed_upload(scope: Scope) -> bool:
    return scope["method"] == "PUT" and str(scope["path"]).startswith("/files/")


def _request_id(scope: Scope) -> str | None:
    """The client's X-Request-Id, when it has a usable one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id" and _REQUEST_ID.match(value.decode("latin-1")):
            return str(value.decode("latin-1"))
    return None


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


def _with_headers(send: Send, request_id: str) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", ()))
            headers += [*_SECURITY_HEADERS, (b"x-request-id", request_id.encode())]
            message = {**message, "headers": headers}
        await send(message)

    return sending


def error_body(message: str, code: str, **extensions: str) -> bytes:
    """A GraphQL response carrying one request-level error, as every 4xx of /graphql has."""
    error = {"message": message, "extensions": {"code": code, **extensions}}
    return json.dumps({"errors": [error]}).encode()


async def _too_large(send: Send, limit: int) -> None:
    body = error_body(f"Request body over {limit} bytes.", "BAD_USER_INPUT", limit="size")
    headers = [(b"content-type", b"application/json"), *_SECURITY_HEADERS]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def install_edges(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(CORSMiddleware, **_cors(settings))
    app.add_middleware(Edges, max_body_bytes=settings.max_body_bytes)


def with_edges(app: ASGIApp, settings: Settings) -> ASGIApp:
    """`app` behind the same edges `install_edges` gives the whole application."""
    return Edges(CORSMiddleware(app, **_cors(settings)), max_body_bytes=settings.max_body_bytes)


def _cors(settings: Settings) -> dict[str, Any]:
    return {
        "allow_origins": list(settings.cors_origins),
        "allow_methods": ["GET", "POST", "PUT"],  # PUT: local storage's signed upload URLs
        "allow_headers": ["authorization", "content-type", "x-request-id"],
        "expose_headers": ["x-request-id", "retry-after"],
        "max_age": 600,
    }


def origin_allowed(origin: str | None, host: str | None, settings: Settings) -> bool:
    """WebSockets from browsers must come from an allowed origin (CORS does not cover them):
    the same origin, or one of CORS_ORIGINS. Clients that send no Origin are not browsers."""
    if origin is None or origin in settings.cors_origins:
        return True
    return host is not None and origin.split("://", 1)[-1] == host
