"""Users: first sign-in provisioning and profiles."""

from __future__ import annotations

from uuid import UUID

from velro_graphql.db import credits, profiles
from velro_graphql.db.pool import Pool
from velro_graphql.db.session import Queryable, as_service
from velro_graphql.entities import Caller, Profile
from velro_graphql.errors import BadUserInput, NotFound
from velro_graphql.services.uploads import ready_upload

WELCOME_CREDITS = 1000
MAX_DISPLAY_NAME = 100
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


async def update_profile(
    pool: Pool, caller: Caller, *, display_name: str | None, avatar_upload_id: UUID | None
) -> Profile:
    """Change the caller's display name and/or avatar (a READY upload of purpose AVATAR)."""
    name = None if display_name is None else _display_name(display_name)
    async with as_service(pool) as conn:
        if avatar_upload_id is not None:
            avatar = await ready_upload(
                conn, caller.user_id, avatar_upload_id, field="avatarUploadId"
            )
            if avatar.purpose != "AVATAR":
                raise BadUserInput("This upload is not an AVATAR.", field="avatarUploadId")
        profile = await profiles.update(
            conn, caller.user_id, display_name=name, avatar_upload_id=avatar_upload_id
        )
    if profile is None:
        raise NotFound("No profile for this user.")
    return profile


def _display_name(display_name: str) -> str:
    name = display_name.strip()
    if not 1 <= len(name) <= MAX_DISPLAY_NAME:
        raise BadUserInput(
            f"displayName must be 1 to {MAX_DISPLAY_NAME} characters.", field="displayName"
        )
    return name
