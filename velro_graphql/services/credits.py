"""Credits: the balance and its append-only ledger."""

from __future__ import annotations

from uuid import UUID

from velro_graphql.db import credits
from velro_graphql.db.session import Queryable
from velro_graphql.entities import CreditTransaction, Page
from velro_graphql.services.pagination import (
    check_first,
    decode_int_key,
    encode_int_key,
    make_page,
)


async def list_transactions(
    conn: Queryable,
    user_id: UUID,
    *,
    first: int | None,
    after: str | None,
    kind: str | None = None,
) -> Page[CreditTransaction]:
    """Return one page of the user's ledger (of one kind, if given), newest first."""
    size = check_first(first)
    rows, total = await credits.page_for_user(
        conn, user_id, limit=size + 1, after=decode_int_key(after), kind=kind
    )
    return make_page(rows, first=size, total_count=total, cursor_of=lambda t: encode_int_key(t.id))


async def current_balance(conn: Queryable, user_id: UUID) -> int:
    """The user's balance as the connection sees it (0 for a user without a profile)."""
    return await credits.balance(conn, user_id) or 0
