"""One WebSocket connection: the protocol's life cycle, its caller and its operations."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from graphql import GraphQLError, OperationType
from starlette.websockets import WebSocket

from velro_graphql.api.admission import Admitted, Refused, Request
from velro_graphql.api.context import Context
from velro_graphql.api.errors import code_errors
from velro_graphql.api.live.fanout import Fanout
from velro_graphql.api.live.feed import Subscriber
from velro_graphql.api.live.operations import RunningOperations
from velro_graphql.api.live.outbox import Outbox
from velro_graphql.api.live.protocol import (
    BAD_REQUEST,
    DUPLICATE_ID,
    FORBIDDEN,
    INIT_TIMEOUT,
    MESSAGE_TOO_BIG,
    TOO_MANY_REQUESTS,
    TRY_AGAIN_LATER,
    UNAUTHORIZED,
    Dialect,
    message,
    too_big,
)
from velro_graphql.api.telemetry import error_codes
from velro_graphql.entities import Caller
from velro_graphql.errors import BadUserInput, RateLimited, VelroError

INIT_TIMEOUT_SECONDS = 10.0
# Unsent messages a connection may hold before it is closed. Results of one subscription
# replace each other, so only a client that stops reading reaches it.
MAX_UNSENT = 1000
# Seconds a connection may keep sending without catching up before it is closed (1013).
MAX_BEHIND_SECONDS = 30.0

Handler = Callable[["Connection", dict[str, Any]], Awaitable[None]]


class Connection:
    __slots__ = (
        "_address",
        "_caller",
        "_dialect",
        "_expiry_timer",
        "_fanout",
        "_handlers",
        "_init_timer",
        "_initialised",
        "_operations",
        "_subscribers",
        "_websocket",
        "outbox",
        "request_id",
    )

    def __init__(self, websocket: WebSocket, dialect: Dialect, fanout: Fanout) -> None:
        self._websocket = websocket
        self._dialect = dialect
        self._fanout = fanout
        self.outbox = Outbox(websocket, limit=MAX_UNSENT, max_behind=MAX_BEHIND_SECONDS)
        self.request_id = uuid.uuid4().hex  # quoted by masked errors
        self._address = websocket.client.host if websocket.client else None
        self._caller: Caller | None = None
        self._initialised = False
        self._subscribers: dict[str, Subscriber] = {}
        self._operations = RunningOperations()  # queries and mutations, as tasks
        self._handlers = _HANDLERS[dialect.legacy]
        loop = asyncio.get_running_loop()
        self._init_timer = loop.call_later(INIT_TIMEOUT_SECONDS, self._init_timed_out)
        self._expiry_timer: asyncio.TimerHandle | None = None

    async def serve(self) -> None:
        """Handle the client's messages, one at a time, until it disconnects."""
        try:
            while True:
                received = await self._websocket.receive()
                if received["type"] == "websocket.disconnect":
                    return
                if self.outbox.closing:
                    continue
                if too_big(received, self._fanout.services.settings.websocket_message_limit):
                    self.outbox.close(MESSAGE_TOO_BIG, "Message too big")
                else:
                    await self._receive(received.get("text"))
        finally:
            self._operations.close()
            if self._caller is not None:
                self._fanout.release(self._caller)
            self._init_timer.cancel()
            if self._expiry_timer is not None:
                self._expiry_timer.cancel()
            for subscriber in self._subscribers.values():
                self._fanout.feeds.leave(subscriber)
            self._subscribers.clear()
            await self.outbox.stop()

    def end(self, subscriber: Subscriber) -> None:
        """End a subscription from the server's side (its source failed)."""
        if self._subscribers.get(subscriber.op_id) is subscriber:
            del self._subscribers[subscriber.op_id]
            self._fanout.feeds.leave(subscriber)
            self.outbox.send(message("complete", id=subscriber.op_id))

    async def _receive(self, text: str | None) -> None:
        if text is None:
            self._malformed("WebSocket message type must be text")
            return
        try:
            received = json.loads(text)
        except (ValueError, RecursionError):  # (an integer past 4,300 digits is a ValueError)
            received = None
        if not isinstance(received, dict):
            self._malformed("WebSocket message must be a JSON object")
            return
        type_ = received.get("type")
        handler = self._handlers.get(type_) if isinstance(type_, str) else None
        if handler is None:
            self._malformed(f"Unknown message type: {type_}")
            return
        await handler(self, received)

    def _malformed(self, reason: str) -> None:
        # graphql-ws ignores what it does not understand; graphql-transport-ws closes.
        if not self._dialect.legacy:
            self.outbox.close(BAD_REQUEST, reason[:100])

    async def _init(self, received: dict[str, Any]) -> None:
        if self._initialised:
            self.outbox.close(TOO_MANY_REQUESTS, "Too many initialisation requests")
            return
        self._initialised = True
        self._init_timer.cancel()
        params = received.get("payload")
        try:
            if params is not None and not isinstance(params, dict):
                raise BadUserInput("Invalid connection init payload")
            self._caller = await self._fanout.admit(self._websocket.headers, params or {})
        except VelroError as error:
            self._reject(error)
            return
        self._expire_with(self._caller)
        self.outbox.send(message("connection_ack"))

    def _expire_with(self, caller: Caller) -> None:
        """Close when the token does: a socket must not outlive the credential that opened it.
        4403 makes graphql-ws clients reconnect, building their connection params (and so a
        fresh token) again. Allows the verifier's clock leeway: the token is still accepted."""
        leeway = self._fanout.services.settings.jwt_leeway_seconds
        remaining = float(caller.claims["exp"]) + leeway - time.time()
        loop = asyncio.get_running_loop()
        self._expiry_timer = loop.call_later(
            max(remaining, 0), self.outbox.close, FORBIDDEN, "Token expired"
        )

    def _reject(self, error: VelroError) -> None:
        if self._dialect.legacy:
            self.outbox.send(message("connection_error", payload=_refusal(error)))
            self.outbox.close(1011)
            return
        # 1013 (try again later): 4429 would tell graphql-ws clients never to reconnect.
        code = {RateLimited: TRY_AGAIN_LATER, BadUserInput: BAD_REQUEST}.get(type(error), FORBIDDEN)
        self.outbox.close(code, error.message[:100])

    def _init_timed_out(self) -> None:
        if not self._initialised:
            self.outbox.close(INIT_TIMEOUT, "Connection initialisation timeout")

    async def _ping(self, received: dict[str, Any]) -> None:
        self.outbox.send(message("pong"))

    async def _ignore(self, received: dict[str, Any]) -> None:
        return None

    async def _terminate(self, received: dict[str, Any]) -> None:
        self.outbox.close(1000)

    async def _start(self, received: dict[str, Any]) -> None:
        op_id = received.get("id")
        if self._caller is None:
            self.outbox.close(UNAUTHORIZED, "Unauthorized")
        elif not isinstance(op_id, str):
            self._malformed("An operation needs a string id")
        elif op_id in self._operations or (op_id in self._subscribers and not self._dialect.legacy):
            self.outbox.close(DUPLICATE_ID, f"Subscriber for {op_id[:50]} already exists")
        else:
            if op_id in self._subscribers:  # graphql-ws: a start replaces its id's operation
                self._leave(op_id)
            try:
                await self._run(self._caller, op_id, Request.from_payload(received.get("payload")))
            except Refused as refused:
                self.outbox.send(self._dialect.error(op_id, self._formatted(refused.errors)))

    async def _run(self, caller: Caller, op_id: str, request: Request) -> None:
        context = self._fanout.context(caller, self.request_id, self._address)
        started = time.perf_counter()
        try:
            context.admitted = await self._fanout.admission.admit(context, request)
            if context.admitted.operation.operation is not OperationType.SUBSCRIPTION:
                mutation = context.admitted.operation.operation is OperationType.MUTATION
                self._start_operation(op_id, context, request, mutation=mutation)
                return  # strawberry's pipeline logs it, as it does HTTP operations
            await self._subscribe(caller, op_id, request, context.admitted)
        except Refused as refused:
            self._record(context, refused.kind, request, refused.errors, started)
            raise
        self._record(context, "subscription", request, [], started)

    def _start_operation(
        self, op_id: str, context: Context, request: Request, *, mutation: bool
    ) -> None:
        if len(self._operations) >= self._fanout.services.settings.max_subscriptions_per_connection:
            too_many = RateLimited("Too many operations running on this connection.", retry_after=1)
            raise Refused.because(too_many, kind="query")
        # A task, so that a slow query delays neither pings nor other operations' messages.
        self._operations.start(op_id, self._execute(op_id, context, request), mutation=mutation)

    async def _execute(self, op_id: str, context: Context, request: Request) -> None:
        try:
            payload = await self._fanout.execute(context, request)
        except Exception:
            if self._operations.wanted(op_id):
                internal = {"code": "INTERNAL", "requestId": self.request_id}
                error = {"message": "Internal error.", "extensions": internal}
                self.outbox.send(self._dialect.error(op_id, [error]))
            raise
        if self._operations.wanted(op_id):
            self.outbox.send(self._dialect.data_prefix(op_id) + payload + "}")
            self.outbox.send(message("complete", id=op_id))

    async def _subscribe(
        self, caller: Caller, op_id: str, request: Request, admitted: Admitted
    ) -> None:
        bound = self._fanout.services.settings.max_subscriptions_per_connection
        if len(self._subscribers) >= bound:
            too_many = RateLimited("Too many subscriptions on this connection.", retry_after=0)
            raise Refused.because(too_many, kind="subscription")
        feed = await self._fanout.feed(caller, request, admitted)
        subscriber = Subscriber(feed, self, op_id, self._dialect.data_prefix(op_id))
        self._subscribers[op_id] = subscriber
        self._fanout.feeds.join(subscriber)

    def _record(
        self,
        context: Context,
        kind: str,
        request: Request,
        errors: list[GraphQLError],
        started: float,
    ) -> None:
        code_errors(errors, self)
        codes = error_codes(errors)
        seconds = time.perf_counter() - started
        self._fanout.admission.record(context, kind, request.operation_name, codes, seconds)

    async def _stop(self, received: dict[str, Any]) -> None:
        op_id = received.get("id")
        if isinstance(op_id, str) and op_id in self._operations:
            self._operations.forget(op_id)  # the client no longer wants its result
        elif isinstance(op_id, str) and op_id in self._subscribers:
            self._leave(op_id)
            if self._dialect.legacy:
                self.outbox.send(message("complete", id=op_id))

    def _leave(self, op_id: str) -> None:
        subscriber = self._subscribers.pop(op_id)
        self._fanout.feeds.leave(subscriber)
        self.outbox.discard(subscriber)

    def _formatted(self, errors: list[GraphQLError]) -> list[dict[str, Any]]:
        code_errors(errors, self)
        return [dict(error.formatted) for error in errors]


_COMMON: dict[str, Handler] = {"connection_init": Connection._init}
_HANDLERS: dict[bool, dict[str, Handler]] = {
    False: {
        **_COMMON,
        "subscribe": Connection._start,
        "complete": Connection._stop,
        "ping": Connection._ping,
        "pong": Connection._ignore,
    },
    True: {
        **_COMMON,
        "start": Connection._start,
        "stop": Connection._stop,
        "connection_terminate": Connection._terminate,
    },
}


def _refusal(error: VelroError) -> dict[str, object]:
    refusal: dict[str, object] = {"code": error.code, "message": error.message}
    if isinstance(error, RateLimited):
        refusal["retryAfter"] = error.retry_after
    return refusal
