"""The context of one GraphQL operation: who calls, its database session and its loaders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from uuid import UUID

from strawberry.fastapi import BaseContext

from velro_graphql.api.admission import Admitted
from velro_graphql.api.auth import TokenVerifier
from velro_graphql.api.loaders import Loaders
from velro_graphql.api.persisted import PersistedQueries
from velro_graphql.api.telemetry import Metrics
from velro_graphql.api.types.output import check_expiry
from velro_graphql.config import Settings
from velro_graphql.entities import Caller
from velro_graphql.errors import Unauthenticated, VelroError
from velro_graphql.services.events import EventHub
from velro_graphql.services.generations.webhooks import FalWebhooks
from velro_graphql.services.rate_limits import RateLimits
from velro_graphql.services.runtime import Runtime
from velro_graphql.services.sessions import CallerSession, Pool, caller_session
from velro_graphql.services.users import KnownUsers


@dataclass
class AppState:
    """What the app builds once at start-up and every operation shares (on top of the runtime
    the worker shares too: settings, pool, providers, storage, catalog)."""

    runtime: Runtime
    verifier: TokenVerifier
    hub: EventHub
    webhooks: FalWebhooks
    rate_limits: RateLimits
    persisted_queries: PersistedQueries
    metrics: Metrics
    # True on a bare Postgres, where no Supabase Auth fills auth.users for us.
    creates_auth_users: bool
    known_users: KnownUsers = field(default_factory=KnownUsers)

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def pool(self) -> Pool:
        return self.runtime.pool


def user_budget_key(user_id: UUID) -> str:
    """The rate-limit key of a signed-in user's budget."""
    return f"user:{user_id}"


class Context(BaseContext):
    def __init__(
        self,
        services: AppState,
        *,
        caller: Caller | None,
        auth_error: VelroError | None = None,
        request_id: str | None = None,
        client_address: str | None = None,
    ) -> None:
        super().__init__()
        self.services = services
        self._caller = caller
        self._auth_error = auth_error
        self.request_id = request_id or uuid.uuid4().hex
        self.client_address = client_address or "unknown"
        self._session: CallerSession | None = None
        self._loaders: Loaders | None = None
        # Set when the compiled HTTP path let the operation in but could not answer it
        # (api/compiled_http.py): strawberry then neither admits nor compiles it again.
        self.admitted: Admitted | None = None
        self.compiled = True

    @property
    def caller(self) -> Caller:
        """The signed-in caller; raises UNAUTHENTICATED for a missing or refused token."""
        if self._caller is None:
            raise self._auth_error or Unauthenticated("Sign in: send a bearer token.")
        return self._caller

    @property
    def user_id(self) -> UUID | None:
        return self._caller.user_id if self._caller else None

    @property
    def rate_limit_key(self) -> str:
        """Whose budget an operation spends: the user's, or the client address's."""
        if self._caller is None:
            return f"ip:{self.client_address}"
        return user_budget_key(self._caller.user_id)

    @property
    def session(self) -> CallerSession:
        if self._session is None:
            caller = self.caller
            self._session = caller_session(self.services.runtime, caller.claims)
        return self._session

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders(
                self.session, self.caller.user_id, self.services.runtime.storage
            )
        return self._loaders

    async def sign(self, bucket: str, path: str, expires_in: int | None) -> str | None:
        """A signed URL for one stored object; batched with the operation's other URLs."""
        default = self.services.settings.signed_url_ttl_seconds
        expiry = check_expiry(expires_in, default)
        url: str | None = await self.loaders.signed_url_by_path.load((bucket, path, expiry))
        return url

    def check_token(self) -> None:
        """Refuse the operation when a token was sent and refused, even for public fields."""
        if self._auth_error is not None:
            raise self._auth_error

    async def close(self, *, commit: bool = True) -> None:
        if self._session is not None:
            await self._session.close(commit=commit)
            self._session = None
            self._loaders = None
