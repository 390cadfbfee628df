"""The one typed settings object. Nothing else in the package reads the environment."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from velro_graphql.errors import ConfigError

_PLACEHOLDERS = ("", "changeme", "change-me", "your-", "xxx", "placeholder", "<", "todo")
_MIN_JWT_SECRET_LENGTH = 32


def default_home() -> Path:
    """The per-user home of the embedded default: the same whatever the working directory, so
    `velro-graphql token` signs with the secret the running `serve` verifies with."""
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "velro-graphql"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    database_url: str | None = None
    velro_home: Path = Field(default_factory=default_home)
    supabase_url: str | None = None
    supabase_service_role_key: str | None = None
    supabase_jwt_secret: str | None = None
    fal_key: str | None = None
    public_base_url: str | None = None
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    port: int = 8000
    redis_url: str | None = None
    # Proxies whose X-Forwarded-For/-Proto are believed (Railway: "*"); by default none are.
    forwarded_allow_ips: Annotated[tuple[str, ...], NoDecode] = ()

    # Set to 0 behind a transaction pooler (Supabase's port 6543), where prepared statements break.
    db_statement_cache_size: int = Field(default=100, ge=0)
    db_pool_size: int = Field(default=10, ge=1, le=200)
    jwks_url: str | None = None
    # Clock skew tolerated on exp/nbf/iat between Supabase Auth and this server.
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # When set, GET /metrics needs `Authorization: Bearer <it>`.
    metrics_token: str | None = None
    # When set, `velro-graphql worker` serves GET /metrics and GET /health on this port.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # How often a scrape may read the backlog gauges from the database.
    metrics_refresh_seconds: float = Field(default=5.0, ge=0)
    signed_url_ttl_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)

    # Generations and their worker.
    simulator_queue_seconds: float = Field(default=2.0, ge=0)
    simulator_run_seconds: float = Field(default=6.0, ge=0)
    generation_deadline_seconds: int | None = Field(
        default=None, ge=1, description="Overrides every model's deadline (tests, operations)."
    )
    provider_poll_seconds: float = Field(default=1.0, ge=0)
    # Research-only models (Stable Cascade on fal) may be started only where their licence
    # allows it: a research deployment says so here.
    allow_research_models: bool = False
    # How long fal's open circuit refuses calls before one probe call may close it.
    provider_circuit_cool_down_seconds: float = Field(default=30.0, gt=0)
    worker_idle_seconds: float = Field(default=0.5, gt=0)
    worker_lease_seconds: int = Field(default=60, ge=5)
    worker_concurrency: int = Field(default=8, ge=1, le=256)
    worker_housekeeping_seconds: float = Field(default=5.0, gt=0)
    # On SIGTERM, how long running steps may finish before they are cancelled (keep it under
    # the platform's stop timeout: Railway's drainingSeconds in railway.worker.toml).
    worker_drain_seconds: float = Field(default=30.0, ge=0)
    fal_webhook_jwks_url: str = "https://rest.alpha.fal.ai/.well-known/jwks.json"
    # Our fal account's user id, as fal puts it in X-Fal-Webhook-User-Id; others are refused.
    fal_user_id: str | None = None
    # Provider output URLs must be https on public addresses unless this is set (tests only).
    allow_insecure_downloads: bool = False
    # How long a provider's output may go silent mid-download before the copy is retried later.
    output_read_timeout_seconds: float = Field(default=30.0, gt=0)
    max_image_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    max_video_bytes: int = Field(default=500 * 1024 * 1024, ge=1024)
    # Uploads (README "Bring your own image"): the size cap, how long a signed upload URL takes
    # a PUT, and when a never-completed upload is deleted.
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, le=2**31 - 1)
    upload_url_ttl_seconds: int = Field(default=600, ge=30, le=7200)
    pending_upload_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    max_subscriptions_per_connection: int = Field(default=20, ge=1, le=1000)
    max_websockets_per_user: int = Field(default=10, ge=1, le=10_000)

    # Readiness (README "Readiness"): how often dependencies are probed in the background.
    readiness_check_seconds: float = Field(default=15.0, gt=0)
    readiness_retry_max_seconds: float = Field(default=30.0, gt=0)
    readiness_misconfigured_retry_seconds: float = Field(default=300.0, gt=0)

    # Abuse resistance (README "Security").
    rate_limit_operations_per_minute: int = Field(default=60, ge=1)
    rate_limit_generations_per_minute: int = Field(default=10, ge=1)
    max_query_depth: int = Field(default=12, ge=2)
    max_query_aliases: int = Field(default=30, ge=1)
    max_query_tokens: int = Field(default=3000, ge=100)
    max_query_cost: int = Field(default=5000, ge=10)
    max_body_bytes: int = Field(default=100_000, ge=1024)
    # A WebSocket message's bound (close 1009 past it); default: max_body_bytes.
    max_websocket_message_bytes: int | None = Field(default=None, ge=1024)
    # Parsed and validated documents kept for every transport (api/documents.py).
    document_cache_max_bytes: int = Field(default=32 * 1024 * 1024, ge=0)
    graphiql: bool | None = Field(default=None, description="Default: on only when embedded.")
    introspection: bool | None = Field(default=None, description="Default: on only when embedded.")
    # Answer supported read-only queries with one JSON statement (api/compiled.py).
    compiled_reads: bool = True
    persisted_queries_only: bool = False
    persisted_queries_file: Path | None = None
    # Bound of the documents learned through APQ (those of the file are not counted).
    persisted_queries_max_bytes: int = Field(default=8 * 1024 * 1024, ge=0)

    @property
    def graphiql_enabled(self) -> bool:
        return self.embedded if self.graphiql is None else self.graphiql

    @property
    def websocket_message_limit(self) -> int:
        return self.max_websocket_message_bytes or self.max_body_bytes

    @property
    def introspection_enabled(self) -> bool:
        return self.embedded if self.introspection is None else self.introspection

    @field_validator("cors_origins", "forwarded_allow_ips", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(o.strip() for o in value.split(",") if o.strip())
        return value

    @field_validator("velro_home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        """A relative VELRO_HOME is taken from where the command runs, then named in full."""
        return value.expanduser().absolute()

    @property
    def embedded(self) -> bool:
        """True when no database is configured: embedded Postgres, local storage, local tokens."""
        return self.database_url is None

    @property
    def jwt_issuer(self) -> str | None:
        return f"{self.supabase_url.rstrip('/')}/auth/v1" if self.supabase_url else None

    @property
    def resolved_jwks_url(self) -> str | None:
        if self.jwks_url:
            return self.jwks_url
        if self.supabase_url:
            return f"{self.supabase_url.rstrip('/')}/auth/v1/.well-known/jwks.json"
        return None

    def check(self) -> None:
        """Refuse to start on missing or placeholder secrets outside the embedded default."""
        if self.embedded:
            return
        if not self.supabase_jwt_secret and not self.supabase_url:
            raise ConfigError(
                "Set SUPABASE_JWT_SECRET or SUPABASE_URL (for its JWKS): "
                "without one no token can be verified."
            )
        _check_secret("SUPABASE_JWT_SECRET", self.supabase_jwt_secret, _MIN_JWT_SECRET_LENGTH)
        _check_secret("SUPABASE_SERVICE_ROLE_KEY", self.supabase_service_role_key, 20)
        _check_secret("FAL_KEY", self.fal_key, 8)
        if self.supabase_url and not self.supabase_service_role_key:
            raise ConfigError("SUPABASE_URL is set but SUPABASE_SERVICE_ROLE_KEY is missing.")

    def local_jwt_secret(self) -> str:
        """The secret tokens are signed with: SUPABASE_JWT_SECRET, else one kept in VELRO_HOME."""
        if self.supabase_jwt_secret:
            return self.supabase_jwt_secret
        if not self.embedded:
            raise ConfigError("SUPABASE_JWT_SECRET is not set: cannot sign tokens.")
        return self._home_secret("jwt_secret")

    def local_storage_secret(self) -> bytes:
        """The key local storage signs its file URLs with, generated once in VELRO_HOME."""
        return self._home_secret("storage_secret").encode()

    def _home_secret(self, name: str) -> str:
        path = self.velro_home / name
        if not path.exists():
            self.velro_home.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48))
        return path.read_text().strip()


def _check_secret(name: str, value: str | None, min_length: int) -> None:
    if value is None:
        return
    lowered = value.strip().lower()
    if any(lowered.startswith(p) for p in _PLACEHOLDERS if p) or lowered == "":
        raise ConfigError(f"{name} looks like a placeholder: set the real value.")
    if len(value.strip()) < min_length:
        raise ConfigError(f"{name} is too short to be real (under {min_length} characters).")
