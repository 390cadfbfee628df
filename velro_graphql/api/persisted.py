"""Automatic persisted queries (Apollo's APQ) and, optionally, only known documents.

A client sends `extensions.persistedQuery.sha256Hash`; an unknown hash without the document
gets PERSISTED_QUERY_NOT_FOUND and the client resends with the document, which is then kept.
With `PERSISTED_QUERIES_ONLY`, only the documents of `PERSISTED_QUERIES_FILE` run.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

if TYPE_CHECKING:
    from velro_graphql.api.context import Context

_CAPACITY = 5000


class PersistedQueries:
    def __init__(self, *, known_file: Path | None, only_known: bool) -> None:
        self.only_known = only_known
        self._known: dict[str, str] = _read(known_file) if known_file else {}
        self._learned: OrderedDict[str, str] = OrderedDict()

    def find(self, sha256: str) -> str | None:
        if sha256 in self._known:
            return self._known[sha256]
        query = self._learned.get(sha256)
        if query is not None:
            self._learned.move_to_end(sha256)
        return query

    def learn(self, sha256: str, query: str) -> None:
        self._learned[sha256] = query
        if len(self._learned) > _CAPACITY:
            self._learned.popitem(last=False)

    def is_known(self, query: str) -> bool:
        return sha256_hex(query) in self._known


def sha256_hex(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def _read(path: Path) -> dict[str, str]:
    documents = json.loads(path.read_text())
    return {
        sha256_hex(q): q for q in (documents.values() if isinstance(documents, dict) else documents)
    }


def _error(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


class PersistedQueryExtension(SchemaExtension):
    """Runs first: fills in the document of a persisted query, or refuses the request."""

    def on_operation(self) -> Iterator[None]:
        ec = self.execution_context
        context: Context = ec.context
        store = context.services.persisted_queries
        ec.query = _resolve(store, ec.query, (ec.operation_extensions or {}).get("persistedQuery"))
        yield


def _resolve(store: PersistedQueries, query: str | None, persisted: Any) -> str | None:
    if not isinstance(persisted, dict):
        if store.only_known and (query is None or not store.is_known(query)):
            raise _error("Only persisted queries are accepted.", "PERSISTED_QUERY_REQUIRED")
        return query
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or len(sha256) != 64:
        raise _error("persistedQuery.sha256Hash must be a sha256 hex digest.", "BAD_USER_INPUT")
    if query is None:
        found = store.find(sha256)
        if found is None:
            raise _error("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
        return found
    if sha256_hex(query) != sha256:
        raise _error("provided sha does not match query", "BAD_USER_INPUT")
    if store.only_known and not store.is_known(query):
        raise _error("Only persisted queries are accepted.", "PERSISTED_QUERY_REQUIRED")
    store.learn(sha256, query)
    return query
