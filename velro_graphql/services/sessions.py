"""The database sessions operations run in, as the API holds them (their SQL stays in db/)."""

from __future__ import annotations

from typing import Any

from velro_graphql.db.pool import Pool
from velro_graphql.db.session import CallerSession, Queryable
from velro_graphql.services.runtime import Runtime

__all__ = ["CallerSession", "Pool", "Queryable", "caller_session"]


def caller_session(rt: Runtime, claims: dict[str, Any]) -> CallerSession:
    """A session whose reads run as the caller (row-level security), opened on first use."""
    return CallerSession(rt.pool, claims, rt.caller_turns)
