"""SQL of profiles: first sign-in provisioning and reads."""

from __future__ import annotations

from uuid import UUID

from velro_graphql.db.rows import columns, to_entity
from velro_graphql.db.session import Queryable
from velro_graphql.entities import Profile

_COLUMNS = columns(Profile)


async def insert_auth_user(conn: Queryable, user_id: UUID, email: str | None) -> None:
    """Create the auth.users row Supabase Auth would have made (embedded default only)."""
    await conn.execute(
        "INSERT INTO auth.users (id, email) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        user_id,
        email,
    )


async def insert_if_absent(conn: Queryable, user_id: UUID, email: str | None) -> bool:
    """Create the user's profile with a zero balance; False when it already existed."""
    status = await conn.execute(
        "INSERT INTO profiles (id, email) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        user_id,
        email,
    )
    return status == "INSERT 0 1"


async def by_ids(conn: Queryable, ids: list[UUID]) -> list[Profile]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM profiles WHERE id = ANY($1::uuid[])", ids)
    return [to_entity(Profile, r) for r in rows]
