"""`GET /metrics` and `GET /health` of a `velro-graphql worker` on METRICS_PORT.

A worker has no web framework to lean on (only the API layer has one), and these two answers
need none: a request line and headers in, one small response out, connection closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from velro_graphql.services.job_metrics import metrics_allowed
from velro_graphql.services.runtime import Runtime

log = logging.getLogger(__name__)

_MAX_HEAD = 16 * 1024
_READ_SECONDS = 10.0
_Response = tuple[str, str, bytes]


@contextlib.asynccontextmanager
async def serving_metrics(rt: Runtime, *, host: str, port: int) -> AsyncIterator[None]:
    """Serve /metrics and /health on `port` while the block runs."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.closing(writer):
            head = await _read_head(reader)
            status, content_type, body = await _respond(rt, head) if head else _BAD_REQUEST
            writer.write(_encode(status, content_type, body))
            with contextlib.suppress(ConnectionError):
                await writer.drain()

    server = await asyncio.start_server(handle, host=host, port=port, limit=_MAX_HEAD)
    log.info("worker metrics on http://%s:%d/metrics", host, port)
    async with server:
        yield


async def _read_head(reader: asyncio.StreamReader) -> list[str] | None:
    try:
        raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_SECONDS)
    except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None
    return raw.decode("latin-1").split("\r\n")


async def _respond(rt: Runtime, head: list[str]) -> _Response:
    method, _, rest = head[0].partition(" ")
    path = rest.partition(" ")[0].partition("?")[0]
    if method not in ("GET", "HEAD"):
        return "405 Method Not Allowed", "text/plain", b"GET only\n"
    if path == "/health":
        return "200 OK", "application/json", b'{"status":"ok"}'
    if path != "/metrics":
        return "404 Not Found", "text/plain", b"/metrics or /health\n"
    if not metrics_allowed(rt.settings.metrics_token, _header(head, "authorization")):
        return "401 Unauthorized", "text/plain", b"send Authorization: Bearer <METRICS_TOKEN>\n"
    await rt.metrics.refresh(rt.pool)
    return "200 OK", CONTENT_TYPE_LATEST, generate_latest(rt.metrics.registry)


def _header(head: list[str], name: str) -> str | None:
    for line in head[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def _encode(status: str, content_type: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


_BAD_REQUEST: _Response = ("400 Bad Request", "text/plain", b"bad request\n")
