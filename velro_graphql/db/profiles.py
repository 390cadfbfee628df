"""SQL of profiles: first sign-in provisioning and reads."""

from __future__ import annotations

from uuid import UUID

from velro_graphql.db.rows import columns, to_entity
from velro_graphql.db.session import Queryable
from velro_graphql.entities import Profile

_COLUMNS = columns(Profile)


async def auth_users_are_supabases(conn: Queryable) -> bool:
    """Whether auth.users is Supabase Auth's table (else it is the shim's, and ours to fill)."""
    found = await conn.fetchval(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = 'auth' "
        "AND table_name = 'users' AND column_name = 'instance_id'"
    )
    return found is not None


async def insert_auth_user(conn: Queryable, user_id: UUID, email: str | None) -> None:
    """Create the auth.users row Supabase Auth would have made (shim databases only)."""
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


async def update(
    conn: Queryable, user_id: UUID, *, display_name: str | None, avatar_upload_id: UUID | None
) -> Profile | None:
    """Change the given fields of a profile (None leaves one as it is)."""
    row = await conn.fetchrow(
        "UPDATE profiles SET display_name = coalesce($2, display_name),"
        " avatar_upload_id = coalesce($3, avatar_upload_id)"
        f" WHERE id = $1 RETURNING {_COLUMNS}",
        user_id,
        display_name,
        avatar_upload_id,
    )
    return to_entity(Profile, row) if row else None
