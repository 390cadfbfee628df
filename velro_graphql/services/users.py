"""Users: first sign-in provisioning and profiles."""

from __future__ import annotations

from uuid import UUID

from velro_graphql.db import credits, profiles
from velro_graphql.db.pool import Pool
from velro_graphql.db.session import Queryable, as_service
from velro_graphql.entities import Profile

WELCOME_CREDITS = 1000
_KNOWN_USERS_LIMIT = 100_000


class KnownUsers:
    """The users this process has already provisioned, so sign-in costs no query after the first."""

    def __init__(self) -> None:
        self._ids: set[UUID] = set()

    def __contains__(self, user_id: UUID) -> bool:
        return user_id in self._ids

    def add(self, user_id: UUID) -> None:
        if len(self._ids) >= _KNOWN_USERS_LIMIT:
            self._ids.clear()
        self._ids.add(user_id)


async def ensure_user(
    pool: Pool,
    user_id: UUID,
    email: str | None,
    *,
    known: KnownUsers,
    create_auth_user: bool,
    welcome_credits: bool = True,
) -> None:
    """Create the profile and its one welcome grant on a user's first sign-in."""
    if user_id in known:
        return
    async with as_service(pool) as conn:
        if create_auth_user:
            await profiles.insert_auth_user(conn, user_id, email)
        if await profiles.insert_if_absent(conn, user_id, email) and welcome_credits:
            await credits.apply(
                conn, user_id, amount=WELCOME_CREDITS, kind="grant", description="Welcome credits"
            )
    known.add(user_id)


async def supabase_auth_present(pool: Pool) -> bool:
    """Whether Supabase Auth owns auth.users (else the shim's table is ours to fill)."""
    async with pool.acquire() as conn:
        return await profiles.auth_users_are_supabases(conn)


async def get_profiles(conn: Queryable, ids: list[UUID]) -> list[Profile]:
    """Return the profiles among `ids` that the connection may see."""
    return await profiles.by_ids(conn, ids)
