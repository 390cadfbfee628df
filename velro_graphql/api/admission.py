"""What no operation may do, over any transport: the one admission policy.

Every operation passes `Admission`'s steps in this order, whether it comes over HTTP (GET or
POST, through the strawberry extension in api/guards.py) or a WebSocket (either protocol, a
query, a mutation or a subscription, through `Admission.admit` in api/live/connection.py):

1. persisted-query rules (api/persisted.py): a hash becomes its document, a new one is learned
   by a signed-in caller, and with PERSISTED_QUERIES_ONLY an unknown one is refused;
2. one operation of the caller's budget is spent, before any parsing;
3. the document is parsed and validated once per distinct text (api/documents.py): tokens,
   depth, aliases, integer literals, introspection when it is off;
4. the operation is checked: unstorable text (NUL, lone surrogates), introspection's extent,
   its cost with variables and their defaults, and a generation start's own budget.

Refusals are GraphQL errors coded by api/errors.py; `record` writes the operation's log line
and metrics.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import (
    BREAK,
    ArgumentNode,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    ObjectFieldNode,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    Visitor,
    get_operation_ast,
    visit,
)

from velro_graphql.api.cost import introspection_extent, operation_cost, root_fields
from velro_graphql.api.documents import Documents
from velro_graphql.api.persisted import resolve_persisted
from velro_graphql.api.telemetry import record_operation
from velro_graphql.config import Settings
from velro_graphql.errors import BadUserInput, VelroError
from velro_graphql.services.rate_limits import Budget

if TYPE_CHECKING:
    from velro_graphql.api.context import Context

# Mutations that start a paid generation, counted against the generation budget.
_STARTS = frozenset({"startGeneration", "retryGeneration"})


@dataclass(frozen=True, slots=True)
class Request:
    """What a client asks, on any transport: a document (or a persisted query's hash)."""

    query: str | None
    variables: dict[str, Any] | None = None
    operation_name: str | None = None
    extensions: dict[str, Any] | None = None

    @classmethod
    def from_payload(cls, payload: object) -> Request:
        """A WebSocket subscribe (or start) message's payload; raises Refused when malformed."""
        if not isinstance(payload, dict):
            raise Refused.because(BadUserInput("The payload must be an object."))
        query, variables = payload.get("query"), payload.get("variables")
        name, extensions = payload.get("operationName"), payload.get("extensions")
        if query is not None and not isinstance(query, str):
            raise Refused.because(BadUserInput("`query` must be a string."))
        if variables is not None and not isinstance(variables, dict):
            raise Refused.because(BadUserInput("`variables` must be an object."))
        if name is not None and not isinstance(name, str):
            raise Refused.because(BadUserInput("`operationName` must be a string."))
        if extensions is not None and not isinstance(extensions, dict):
            raise Refused.because(BadUserInput("`extensions` must be an object."))
        return cls(query, variables, name, extensions)


class Refused(Exception):
    """An operation the admission refused: the errors to answer it with."""

    def __init__(self, errors: Sequence[GraphQLError], *, kind: str = "unknown") -> None:
        super().__init__(errors[0].message if errors else "refused")
        self.errors = list(errors)
        self.kind = kind  # the operation's type, once it was known

    @classmethod
    def because(cls, error: Exception, *, kind: str = "unknown") -> Refused:
        if isinstance(error, GraphQLError):
            return cls([error], kind=kind)
        message = getattr(error, "message", str(error))
        return cls([GraphQLError(message, original_error=error)], kind=kind)


@dataclass(frozen=True, slots=True)
class Admitted:
    """An operation the admission let in, with what it found."""

    query: str
    document: DocumentNode
    operation: OperationDefinitionNode
    cost: int
    budget: Budget


class Admission:
    """The one policy: each step on its own (strawberry's hooks call them one by one) and
    `admit`, all of them in order."""

    def __init__(self, schema: GraphQLSchema, settings: Settings) -> None:
        self.documents = Documents(schema, settings)
        self.max_cost = settings.max_query_cost

    async def admit(self, context: Context, request: Request) -> Admitted:
        """Every step, in order; raises Refused."""
        kind = "unknown"
        try:
            query = await self.resolve(context, request)
            if query is None:
                raise BadUserInput("No GraphQL query found in the request.", field="query")
            budget = await self.spend(context)
            document = self.document(query)
            operation = operation_of(document, request.operation_name)
            kind = operation.operation.value
            cost = await self.check(context, document, operation, request.variables)
        except (VelroError, GraphQLError) as error:
            raise Refused.because(error, kind=kind) from None
        except Refused as refused:
            refused.kind = kind
            raise
        return Admitted(query, document, operation, cost, budget)

    async def resolve(self, context: Context, request: Request) -> str | None:
        """Step 1: the persisted-query rules; the document to run (None: none was sent)."""
        return await resolve_persisted(context, request.query, request.extensions)

    async def spend(self, context: Context) -> Budget:
        """Step 2: one operation of the caller's budget, before the document is even parsed."""
        limits = context.services.rate_limits
        return await limits.spend(limits.operations, context.rate_limit_key)

    def document(self, query: str) -> DocumentNode:
        """Step 3: the parsed and validated document; raises Refused with what is wrong."""
        checked = self.documents.check(query)
        if checked.document is None or checked.errors:
            raise Refused(checked.fresh_errors())
        return checked.document

    async def check(
        self,
        context: Context,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: dict[str, Any] | None,
    ) -> int:
        """Step 4: the operation's text, extent and cost; a start spends its own budget.
        Returns the cost."""
        cost = admit_operation(document, operation, variables, max_cost=self.max_cost)
        starts = sum(1 for name in root_fields(document, operation).values() if name in _STARTS)
        if starts and operation.operation == OperationType.MUTATION:
            limits = context.services.rate_limits
            await limits.spend(limits.generations, context.rate_limit_key, cost=starts)
        return cost

    def record(
        self, context: Context, kind: str, name: str | None, codes: list[str], seconds: float
    ) -> None:
        """The operation's one log line and its metrics, whatever its transport and outcome."""
        record_operation(context, kind, name, codes, seconds)


def cost_extension(cost: int, max_cost: int, budget: Budget | None) -> dict[str, Any]:
    """Shopify-style `extensions.cost` of a response: the query's cost and the budget left."""
    found: dict[str, Any] = {"requestedQueryCost": cost, "maximumQueryCost": max_cost}
    if budget is not None:
        found["throttleStatus"] = {
            "maximumAvailable": budget.limit,
            "currentlyAvailable": budget.remaining,
            "restoreRate": round(budget.limit / 60, 3),
        }
    return {"cost": found}


def operation_of(document: DocumentNode, name: str | None) -> OperationDefinitionNode:
    """The operation `name` picks from the document (or its only one)."""
    operation = get_operation_ast(document, name)
    if operation is None:
        raise GraphQLError(
            f"Unknown operation named '{name}'."
            if name
            else "Must provide operation name if query contains multiple operations."
        )
    return operation


# One full introspection (GraphiQL's, codegen's) asks `__schema` once and nests three lists
# (types -> fields -> args); 30 aliased copies answered 1.86 MB, and nesting more lists
# (fields -> type -> fields ...) multiplies the answer with each level.
MAX_INTROSPECTION_ROOTS = 2
MAX_INTROSPECTION_LISTS = 3
# Postgres text holds neither NUL nor lone UTF-16 surrogates (JSON's "\ud800" decodes to one
# and fails asyncpg's UTF-8 encoding): refused here, naming the field, not mid-operation.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def admit_operation(
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, Any] | None,
    *,
    max_cost: int,
) -> int:
    """Refuse unstorable text, oversized introspection and operations over `max_cost`;
    return the operation's cost."""
    check_text(document, variables)
    check_introspection(document, operation)
    cost = operation_cost(document, operation, variables)
    if cost > max_cost:
        raise BadUserInput(
            f"Query cost {cost} exceeds the limit of {max_cost}: "
            "ask for fewer items (smaller `first`) or fewer nested connections.",
            field="cost",
        )
    return cost


def check_introspection(document: DocumentNode, operation: OperationDefinitionNode) -> None:
    extent = introspection_extent(document, operation)
    if extent.roots > MAX_INTROSPECTION_ROOTS or extent.nested_lists > MAX_INTROSPECTION_LISTS:
        raise BadUserInput(
            f"Introspection is limited to {MAX_INTROSPECTION_ROOTS} `__schema`/`__type` fields "
            f"an operation, nesting at most {MAX_INTROSPECTION_LISTS} lists.",
            field="introspection",
        )


def check_text(document: DocumentNode | None, variables: object) -> None:
    """Refuse text Postgres cannot store, in the variables or the document's literals."""
    field = unstorable_field(variables)
    if field is None and document is not None and _may_hold_nul(document):
        field = _unstorable_literal(document)
    if field is not None:
        raise BadUserInput(
            f"{field} must not contain NUL (\\u0000) characters or lone UTF-16 surrogates.",
            field=field,
        )


def unstorable_field(variables: object) -> str | None:
    """The input field (or variable) holding unstorable text, if one does."""
    pending: list[tuple[str, object]] = [("variables", variables)]  # a stack: JSON nests deep
    while pending:
        field, value = pending.pop()
        if isinstance(value, str):
            if _UNSTORABLE.search(value):
                return field
        elif isinstance(value, dict):
            for key, item in value.items():
                if _UNSTORABLE.search(key):
                    return field
                pending.append((key, item))
        elif isinstance(value, list):
            pending += [(field, item) for item in value]
    return None


class _UnstorableLiteral(Visitor):
    field: str | None = None

    def enter_string_value(
        self, node: StringValueNode, _key: object, parent: object, _path: object, ancestors: Any
    ) -> object:
        if not _UNSTORABLE.search(node.value):
            return None
        named = [a for a in [*ancestors, parent] if isinstance(a, ArgumentNode | ObjectFieldNode)]
        self.field = named[-1].name.value if named else "query"
        return BREAK


def _may_hold_nul(document: DocumentNode) -> bool:
    """Whether a literal may hold NUL (the lexer refuses lone surrogates in literals itself):
    a raw one, or an escape (`\\u0000`, `\\u{0}`); most documents have neither."""
    if document.loc is None:
        return True
    body = document.loc.source.body
    return "\x00" in body or "\\u" in body


def _unstorable_literal(document: DocumentNode) -> str | None:
    finder = _UnstorableLiteral()
    visit(document, finder)
    return finder.field
