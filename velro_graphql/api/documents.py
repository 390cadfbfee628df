"""Documents parsed and validated once, for every transport: one cache keyed by the sha256 of
the text (never the text itself), bounded in bytes, least recently used out first.

It replaces strawberry's ParserCache and ValidationCache (lru_caches keyed by the whole text and
counted in entries, so 512 texts of 8 MB were 4 GB) and the WebSocket's own copy of them.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from graphql import (
    BREAK,
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    IntValueNode,
    Visitor,
    parse,
    specified_rules,
    visit,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter
from strawberry.schema.schema import validate_document

from velro_graphql.api.persisted import sha256_hex
from velro_graphql.bounded_cache import BoundedCache
from velro_graphql.config import Settings
from velro_graphql.errors import BadUserInput

# Integer literals past Python's int() limit (4,300 digits) fail graphql-core's validation with
# a ValueError; far shorter ones already fit no Int and no seed.
MAX_INT_LITERAL_DIGITS = 100
_LONG_DIGITS = re.compile(rf"\d{{{MAX_INT_LITERAL_DIGITS + 1}}}")
# Measured with tracemalloc: a dense 3 kB document parses to about 340 kB of nodes. Weighing
# every character so over-counts comments and whitespace, which is the safe side.
AST_BYTES_PER_CHAR = 120
_ENTRY_OVERHEAD = 500


@dataclass(frozen=True, slots=True)
class Checked:
    """A text's parsed document (None when it did not parse) and what refuses it."""

    document: DocumentNode | None
    errors: tuple[GraphQLError, ...]
    weight: int

    def fresh_errors(self) -> list[GraphQLError]:
        """Copies, so that raising or coding one never ties a request's frames to the cache."""
        return [
            GraphQLError(e.message, e.nodes, e.source, e.positions, e.path, e.original_error)
            for e in self.errors
        ]


class Documents:
    def __init__(self, schema: GraphQLSchema, settings: Settings) -> None:
        self._schema = schema
        self._rules = validation_rules(settings)
        self._max_tokens = settings.max_query_tokens
        self._cache = BoundedCache[str, Checked](
            settings.document_cache_max_bytes, lambda checked: checked.weight
        )

    def check(self, text: str) -> Checked:
        """Parse and validate `text` with every limit, or answer from the cache."""
        key = sha256_hex(text)
        found = self._cache.get(key)
        if found is not None:
            return found
        checked = self._check(text)
        self._cache.put(key, checked)
        return checked

    @property
    def cached_bytes(self) -> int:
        return self._cache.bytes

    def _check(self, text: str) -> Checked:
        refused_weight = sys.getsizeof(text) + _ENTRY_OVERHEAD  # an error keeps its source
        try:
            document = parse(text, max_tokens=self._max_tokens)
            check_literals(document)
        except GraphQLError as error:
            return Checked(None, (error,), refused_weight)
        except BadUserInput as error:
            refusal = GraphQLError(error.message, original_error=error)
            return Checked(None, (refusal,), _ENTRY_OVERHEAD)
        errors = validate_document(self._schema, document, self._rules)
        weight = sys.getsizeof(text) + AST_BYTES_PER_CHAR * len(text) + _ENTRY_OVERHEAD
        return Checked(document, tuple(errors), weight)


def validation_rules(settings: Settings) -> tuple[type[ASTValidationRule], ...]:
    """GraphQL's rules with the configured depth and alias limits (and no introspection when
    it is off)."""
    rules = [
        *specified_rules,
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_query_aliases).validation_rules,
    ]
    if not settings.introspection_enabled:
        rules.append(NoSchemaIntrospectionCustomRule)
    return tuple(rules)


def check_literals(document: DocumentNode) -> None:
    """Before validation: refuse integer literals too long for any input."""
    if document.loc is not None and not _LONG_DIGITS.search(document.loc.source.body):
        return
    finder = _LongInteger()
    visit(document, finder)
    if finder.found:
        raise BadUserInput(
            f"Integer literals are limited to {MAX_INT_LITERAL_DIGITS} digits.", field="query"
        )


class _LongInteger(Visitor):
    found = False

    def enter_int_value(self, node: IntValueNode, *_: object) -> object:
        self.found = len(node.value.lstrip("-")) > MAX_INT_LITERAL_DIGITS
        return BREAK if self.found else None
