"""Usage summaries: counts by status and model, credits spent and refunded, bytes stored."""

from __future__ import annotations

from uuid import UUID

from velro_graphql.db import stats
from velro_graphql.db.session import Queryable
from velro_graphql.db.stats import ModelUsage, Usage

__all__ = ["ModelUsage", "Usage", "usage_of"]


async def usage_of(conn: Queryable, user_id: UUID, *, project_id: UUID | None = None) -> Usage:
    """The user's usage, or one of their projects' (in the caller's session)."""
    return await stats.usage(conn, user_id, project_id)
