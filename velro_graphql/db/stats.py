"""Usage figures of a user or one project, each in one statement, from the same rows the
lists and the ledger read."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from velro_graphql.db.session import Queryable


@dataclass(frozen=True, slots=True)
class ModelUsage:
    model_id: str
    count: int
    credits: int  # charged minus refunded


@dataclass(frozen=True, slots=True)
class Usage:
    generation_count: int
    by_status: dict[str, int]
    credits_spent: int  # charged minus refunded
    credits_refunded: int
    by_model: list[ModelUsage]
    stored_bytes: int


# $2 NULL: all the user's rows. Ledger rows of a project are those of its generations; the
# user's own figures take every charge and refund, deleted generations' included.
_USAGE = """
WITH gen AS (
    SELECT id, status, model_id FROM generations
    WHERE user_id = $1 AND ($2::uuid IS NULL OR project_id = $2)
), money AS (
    SELECT c.kind, c.amount, g.model_id FROM credit_transactions c
    LEFT JOIN gen g ON g.id = c.generation_id
    WHERE c.user_id = $1 AND c.kind IN ('charge', 'refund')
      AND ($2::uuid IS NULL OR g.id IS NOT NULL)
), statuses AS (
    SELECT status, count(*)::int AS n FROM gen GROUP BY status
), models AS (
    SELECT m.model_id, m.n::int, coalesce(-sum(money.amount), 0)::int AS credits
    FROM (SELECT model_id, count(*) AS n FROM gen GROUP BY model_id) m
    LEFT JOIN money ON money.model_id = m.model_id
    GROUP BY m.model_id, m.n
)
SELECT
    (SELECT count(*) FROM gen) AS generation_count,
    (SELECT array_agg(status ORDER BY status) FROM statuses) AS statuses,
    (SELECT array_agg(n ORDER BY status) FROM statuses) AS status_counts,
    (SELECT coalesce(-sum(amount), 0) FROM money) AS spent,
    (SELECT coalesce(sum(amount) FILTER (WHERE kind = 'refund'), 0) FROM money) AS refunded,
    (SELECT array_agg(model_id ORDER BY model_id) FROM models) AS model_ids,
    (SELECT array_agg(n ORDER BY model_id) FROM models) AS model_counts,
    (SELECT array_agg(credits ORDER BY model_id) FROM models) AS model_credits,
    (SELECT coalesce(sum(o.byte_size), 0) FROM generation_outputs o
     JOIN gen ON gen.id = o.generation_id WHERE o.user_id = $1 AND o.stored) AS stored_bytes
"""


async def usage(conn: Queryable, user_id: UUID, project_id: UUID | None) -> Usage:
    """The user's usage, or one of their projects'."""
    r = await conn.fetchrow(_USAGE, user_id, project_id)
    assert r is not None  # aggregates: always one row
    ids, counts, credits = r["model_ids"] or (), r["model_counts"] or (), r["model_credits"] or ()
    return Usage(
        generation_count=r["generation_count"],
        by_status=dict(zip(r["statuses"] or (), r["status_counts"] or (), strict=True)),
        credits_spent=int(r["spent"]),
        credits_refunded=int(r["refunded"]),
        by_model=[ModelUsage(*m) for m in zip(ids, counts, credits, strict=True)],
        stored_bytes=int(r["stored_bytes"]),
    )
