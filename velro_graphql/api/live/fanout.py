"""The fan-out: what a WebSocket connection asks of the app, from its caller to its feeds."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from inspect import isawaitable
from typing import Any
from uuid import UUID

import strawberry
from graphql import (
    DocumentNode,
    ExecutionResult,
    OperationDefinitionNode,
    create_source_event_stream,
)

from velro_graphql.api.context import AppState, Context, user_budget_key
from velro_graphql.api.cost import operation_cost
from velro_graphql.api.http import origin_allowed
from velro_graphql.api.live.documents import Documents, Refused, Request
from velro_graphql.api.live.execution import Renderer, Selection, encode
from velro_graphql.api.live.feeds import Feed, FeedKey, Feeds
from velro_graphql.api.live.source import LiveSource
from velro_graphql.entities import Caller
from velro_graphql.errors import BadUserInput, Forbidden, RateLimited, Unauthenticated

# How an `Authorization` value becomes a caller (api.app.verify_caller).
Verify = Callable[[AppState, str | None], Awaitable[Caller | None]]


class Fanout:
    def __init__(self, schema: strawberry.Schema, services: AppState, verify: Verify) -> None:
        self.schema = schema
        self.services = services
        self._verify = verify
        self.documents = Documents(schema, services.settings)
        self.feeds = Feeds(Renderer(schema), self._context)
        self._sockets: Counter[UUID] = Counter()  # open connections per user

    async def admit(self, headers: Mapping[str, str], params: Mapping[str, Any]) -> Caller:
        """The caller a connection_init authenticates; spends one operation of its budget."""
        if not origin_allowed(headers.get("origin"), headers.get("host"), self.services.settings):
            raise Forbidden("Origin not allowed.")
        caller = await self._verify(self.services, _authorization(params))
        if caller is None:
            raise Unauthenticated("Send Authorization in connection_init.")
        await self._spend(caller)
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

    async def execute(self, caller: Caller, request: Request, address: str | None) -> str:
        """Run a query or mutation once, exactly as over HTTP; its `next` payload as JSON."""
        context = Context(self.services, caller=caller, client_address=address)
        result = await self.schema.execute(
            request.query, request.variables, context, operation_name=request.operation_name
        )
        return encode(result.data, result.errors, context, result.extensions)

    async def feed(
        self,
        caller: Caller,
        request: Request,
        document: DocumentNode,
        operation: OperationDefinitionNode,
    ) -> Feed:
        """The feed a subscription joins (made if it is the first of its kind); raises Refused."""
        self._check_cost(document, operation, request.variables)
        try:
            await self._spend(caller)
        except RateLimited as error:
            raise Refused.because(error) from None
        variables = json.dumps(request.variables, sort_keys=True, separators=(",", ":"))
        key: FeedKey = (caller.user_id, request.query, request.operation_name, variables)
        existing = self.feeds.get(key)
        if existing is not None:
            return existing
        selection = Selection(document, request.variables, request.operation_name)
        return Feed(key, caller, selection, await self._source(document, request))

    def _context(self, caller: Caller) -> Context:
        return Context(self.services, caller=caller)

    async def _spend(self, caller: Caller) -> None:
        limits = self.services.rate_limits
        await limits.spend(limits.operations, user_budget_key(caller.user_id))

    def _check_cost(
        self, document: DocumentNode, operation: OperationDefinitionNode, variables: Any
    ) -> None:
        limit = self.services.settings.max_query_cost
        cost = operation_cost(document, operation, variables)
        if cost > limit:
            message = f"Query cost {cost} exceeds the limit of {limit}: ask for fewer items."
            raise Refused.because(BadUserInput(message, field="cost"))

    async def _source(self, document: DocumentNode, request: Request) -> LiveSource[object]:
        """The subscription resolver's source: graphql-core coerces variables and arguments."""
        executor = self.schema.execution_context_class.build(
            self.schema._schema,
            document,
            raw_variable_values=request.variables,
            operation_name=request.operation_name,
        )
        if isinstance(executor, list):
            raise Refused(executor)
        stream = create_source_event_stream(executor)
        if isawaitable(stream):
            stream = await stream
        if isinstance(stream, ExecutionResult):
            raise Refused(stream.errors or [])
        if not isinstance(stream, LiveSource):
            raise TypeError(f"a subscription resolver returned {type(stream).__name__}")
        return stream


@asynccontextmanager
async def open_fanout(
    schema: strawberry.Schema, services: AppState, verify: Verify
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
