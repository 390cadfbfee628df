"""The context of one GraphQL operation: who calls, its database session and its loaders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import cached_property

import asyncpg
from strawberry.fastapi import BaseContext

from velro_graphql.api.auth import TokenVerifier
from velro_graphql.api.loaders import Loaders
from velro_graphql.config import Settings
from velro_graphql.db.session import CallerSession
from velro_graphql.entities import Caller
from velro_graphql.errors import Unauthenticated, VelroError
from velro_graphql.services.catalog import Model
from velro_graphql.services.users import KnownUsers


@dataclass
class Services:
    """What the app builds once at start-up and every operation shares."""

    settings: Settings
    pool: asyncpg.Pool
    verifier: TokenVerifier
    catalog: tuple[Model, ...]
    provider_name: str
    # True on a bare Postgres, where no Supabase Auth fills auth.users for us.
    creates_auth_users: bool
    known_users: KnownUsers = field(default_factory=KnownUsers)

    @cached_property
    def models_by_id(self) -> dict[str, Model]:
        return {model.id: model for model in self.catalog}


class Context(BaseContext):
    def __init__(
        self,
        services: Services,
        *,
        caller: Caller | None,
        auth_error: VelroError | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__()
        self.services = services
        self._caller = caller
        self._auth_error = auth_error
        self.request_id = request_id or uuid.uuid4().hex
        self._session: CallerSession | None = None
        self._loaders: Loaders | None = None

    @property
    def caller(self) -> Caller:
        """The signed-in caller; raises UNAUTHENTICATED for a missing or refused token."""
        if self._caller is None:
            raise self._auth_error or Unauthenticated("Sign in: send a bearer token.")
        return self._caller

    @property
    def session(self) -> CallerSession:
        if self._session is None:
            caller = self.caller
            self._session = CallerSession(self.services.pool, caller.claims)
        return self._session

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders(self.session, self.caller.user_id)
        return self._loaders

    def check_token(self) -> None:
        """Refuse the operation when a token was sent and refused, even for public fields."""
        if self._auth_error is not None:
            raise self._auth_error

    async def close(self, *, commit: bool = True) -> None:
        if self._session is not None:
            await self._session.close(commit=commit)
            self._session = None
            self._loaders = None
