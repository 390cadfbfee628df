"""The fan-out: what a WebSocket connection asks of the app, from its caller to its feeds."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from inspect import isawaitable
from typing import Any
from uuid import UUID

from graphql import ExecutionResult, create_source_event_stream

from velro_graphql.api.admission import Admitted, Refused, Request
from velro_graphql.api.context import AppState, Context
from velro_graphql.api.http import origin_allowed
from velro_graphql.api.live.execution import Renderer, Selection, encode
from velro_graphql.api.live.feed import Feed, FeedKey
from velro_graphql.api.live.feeds import Feeds
from velro_graphql.api.live.source import LiveSource
from velro_graphql.api.live.states import StatePlans
from velro_graphql.api.schema import VelroSchema
from velro_graphql.entities import Caller
from velro_graphql.errors import Forbidden, RateLimited, Unauthenticated

# How an `Authorization` value becomes a caller (api.app.verify_caller).
Verify = Callable[[AppState, str | None], Awaitable[Caller | None]]


class Fanout:
    def __init__(self, schema: VelroSchema, services: AppState, verify: Verify) -> None:
        self.schema = schema
        self.admission = schema.admission
        self.services = services
        self._verify = verify
        self.feeds = Feeds(Renderer(schema), self.context)
        self._sockets: Counter[UUID] = Counter()  # open connections per user
        self._plans = StatePlans(schema._schema)

    async def admit(self, headers: Mapping[str, str], params: Mapping[str, Any]) -> Caller:
        """The caller a connection_init authenticates; spends one operation of its budget."""
        if not origin_allowed(headers.get("origin"), headers.get("host"), self.services.settings):
            raise Forbidden("Origin not allowed.")
        caller = await self._verify(self.services, _authorization(params))
        if caller is None:
            raise Unauthenticated("Send Authorization in connection_init.")
        await self.admission.spend(self.context(caller))
        self._hold(caller)
        return caller

    def release(self, caller: Caller) -> None:
        """A connection `admit` let in has closed: its user may open another."""
        held = self._sockets[caller.user_id] - 1
        if held:
            self._sockets[caller.user_id] = held
        else:
            del self._sockets[caller.user_id]

    def _hold(self, caller: Caller) -> None:
        bound = self.services.settings.max_websockets_per_user
        if self._sockets[caller.user_id] >= bound:
            raise RateLimited(f"At most {bound} open WebSockets per user.", retry_after=5)
        self._sockets[caller.user_id] += 1

    def context(
        self, caller: Caller, request_id: str | None = None, address: str | None = None
    ) -> Context:
        return Context(self.services, caller=caller, request_id=request_id, client_address=address)

    async def execute(self, context: Context, request: Request) -> str:
        """Run an admitted query or mutation, as over HTTP; its `next` payload as JSON."""
        assert context.admitted is not None
        result = await self.schema.execute(
            context.admitted.query,
            request.variables,
            context,
            operation_name=request.operation_name,
        )
        return encode(result.data, result.errors, context, result.extensions)

    async def feed(self, caller: Caller, request: Request, admitted: Admitted) -> Feed:
        """The feed an admitted subscription joins (made if it is the first of its kind);
        raises Refused."""
        variables = json.dumps(request.variables, sort_keys=True, separators=(",", ":"))
        key: FeedKey = (caller.user_id, admitted.query, request.operation_name, variables)
        existing = self.feeds.get(key)
        if existing is not None:
            return existing
        selection = Selection(admitted.document, request.variables, request.operation_name)
        source = await self._source(admitted, request)
        plan = None
        if source.snapshot and source.state_type is not None:
            plan = self._plans.plan(admitted.query, selection, source.state_type)
        return Feed(key, caller, selection, source, plan)

    async def _source(self, admitted: Admitted, request: Request) -> LiveSource[object]:
        """The subscription resolver's source: graphql-core coerces variables and arguments."""
        executor = self.schema.execution_context_class.build(
            self.schema._schema,
            admitted.document,
            raw_variable_values=request.variables,
            operation_name=request.operation_name,
        )
        if isinstance(executor, list):
            raise Refused(executor, kind="subscription")
        stream = create_source_event_stream(executor)
        if isawaitable(stream):
            stream = await stream
        if isinstance(stream, ExecutionResult):
            raise Refused(stream.errors or [], kind="subscription")
        if not isinstance(stream, LiveSource):
            raise TypeError(f"a subscription resolver returned {type(stream).__name__}")
        return stream


@asynccontextmanager
async def open_fanout(
    schema: VelroSchema, services: AppState, verify: Verify
) -> AsyncIterator[Fanout]:
    """Serve WebSocket operations while the block runs, fed by the app's event hub."""
    fanout = Fanout(schema, services, verify)
    services.hub.add_listener(fanout.feeds.publish)
    services.metrics.subscribers.set_function(lambda: fanout.feeds.subscriber_count)
    try:
        yield fanout
    finally:
        services.hub.remove_listener(fanout.feeds.publish)
        await fanout.feeds.close()


def _authorization(params: Mapping[str, Any]) -> str | None:
    header = params.get("Authorization") or params.get("authorization")
    if header is None and isinstance(params.get("authToken"), str):
        header = f"Bearer {params['authToken']}"
    return str(header) if header is not None else None
