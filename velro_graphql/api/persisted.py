"""Automatic persisted queries (Apollo's APQ) and, optionally, only known documents.

A client sends `extensions.persistedQuery.sha256Hash`; an unknown hash without the document
gets PERSISTED_QUERY_NOT_FOUND and the client resends with the document, which is then kept.
Keeping one needs a signed-in caller and spends an operation of its budget; the learned
documents are bounded in bytes, least recently used out first. The documents of
`PERSISTED_QUERIES_FILE` are never evicted; with `PERSISTED_QUERIES_ONLY`, only they run.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError

from velro_graphql.bounded_cache import BoundedCache
from velro_graphql.errors import Unauthenticated

if TYPE_CHECKING:
    from velro_graphql.api.context import Context

# What a learned document weighs beyond its text: its hash key and the dict's entry.
_ENTRY_OVERHEAD = 200


class PersistedQueries:
    def __init__(self, *, known_file: Path | None, only_known: bool, max_bytes: int) -> None:
        self.only_known = only_known
        self._known: dict[str, str] = _read(known_file) if known_file else {}
        self._learned = BoundedCache[str, str](max_bytes, _weight)

    def find(self, sha256: str) -> str | None:
        if sha256 in self._known:
            return self._known[sha256]
        return self._learned.get(sha256)

    def learn(self, sha256: str, query: str) -> None:
        """Keep a document, evicting the least recently used ones past the byte bound."""
        self._learned.put(sha256, query)

    @property
    def learned_bytes(self) -> int:
        return self._learned.bytes

    def is_known(self, query: str) -> bool:
        return sha256_hex(query) in self._known


def sha256_hex(query: str) -> str:
    # surrogatepass: a lone surrogate (in a comment, say) must not fail the hash with a 500.
    return hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()


def _weight(query: str) -> int:
    return sys.getsizeof(query) + _ENTRY_OVERHEAD


def _read(path: Path) -> dict[str, str]:
    documents = json.loads(path.read_text())
    return {
        sha256_hex(q): q for q in (documents.values() if isinstance(documents, dict) else documents)
    }


def _error(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


async def resolve_persisted(context: Context, query: str | None, extensions: Any) -> str | None:
    """The document to run: the one given, or the persisted one its hash names; keeps a new
    one (for a signed-in caller) or refuses by the store's rules."""
    store = context.services.persisted_queries
    persisted = (extensions or {}).get("persistedQuery") if isinstance(extensions, dict) else None
    resolved = _resolve(store, query, persisted)
    if query is not None and isinstance(persisted, dict):
        sha256 = persisted["sha256Hash"]
        if store.find(sha256) is None:
            await _register(context)
            store.learn(sha256, query)
    return resolved


async def _register(context: Context) -> None:
    """Let the caller keep a document: signed in, and one operation of its budget spent."""
    if context.user_id is None:
        context.check_token()  # a refused token says why
        raise Unauthenticated("Sign in to register a persisted query.")
    limits = context.services.rate_limits
    await limits.spend(limits.operations, context.rate_limit_key)


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
    return query
