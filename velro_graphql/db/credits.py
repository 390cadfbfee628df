"""SQL of balances and the credit ledger. Balance and ledger change in one statement."""

from __future__ import annotations

from uuid import UUID

from velro_graphql.db.rows import columns, to_entity
from velro_graphql.db.session import Queryable
from velro_graphql.entities import CreditTransaction

_COLUMNS = columns(CreditTransaction)
_C_COLUMNS = columns(CreditTransaction, "c")

# The UPDATE refuses to take the balance below zero (and the CHECK would too); when it matches
# no row the INSERT writes nothing, so a balance never changes without its ledger row.
_APPLY = f"""
WITH balance AS (
    UPDATE profiles SET credits_balance = credits_balance + $2
    WHERE id = $1 AND credits_balance + $2 >= 0
    RETURNING credits_balance
)
INSERT INTO credit_transactions (user_id, amount, balance_after, kind, generation_id, description)
SELECT $1, $2, credits_balance, $3, $4, $5 FROM balance
RETURNING {_COLUMNS}
"""


async def apply(
    conn: Queryable,
    user_id: UUID,
    *,
    amount: int,
    kind: str,
    generation_id: UUID | None = None,
    description: str = "",
) -> CreditTransaction | None:
    """Add `amount` (negative to charge) with its ledger row; None when the balance is short."""
    row = await conn.fetchrow(_APPLY, user_id, amount, kind, generation_id, description)
    return to_entity(CreditTransaction, row) if row else None


async def balance(conn: Queryable, user_id: UUID) -> int | None:
    value: int | None = await conn.fetchval(
        "SELECT credits_balance FROM profiles WHERE id = $1", user_id
    )
    return value


_PAGE = f"""
SELECT t.total, {_C_COLUMNS}
FROM (
    SELECT count(*) AS total FROM credit_transactions
    WHERE user_id = $1 AND ($4::text IS NULL OR kind = $4)
) AS t
LEFT JOIN LATERAL (
    SELECT * FROM credit_transactions
    WHERE user_id = $1 AND ($4::text IS NULL OR kind = $4) AND ($2::bigint IS NULL OR id < $2)
    ORDER BY id DESC
    LIMIT $3
) AS c ON true
"""


async def page_for_user(
    conn: Queryable, user_id: UUID, *, limit: int, after: int | None, kind: str | None
) -> tuple[list[CreditTransaction], int]:
    """Return up to `limit` of the user's ledger rows (of one kind, if given), newest first,
    and the total."""
    rows = await conn.fetch(_PAGE, user_id, after, limit, kind)
    return [to_entity(CreditTransaction, r, 1) for r in rows if r["id"] is not None], rows[0][
        "total"
    ]
