"""Start-up of the API: the runtime, the event listener and (by default) a worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from velro_graphql.api.auth import TokenVerifier
from velro_graphql.api.context import AppState
from velro_graphql.api.persisted import PersistedQueries
from velro_graphql.api.telemetry import Metrics
from velro_graphql.config import Settings
from velro_graphql.services import users
from velro_graphql.services.catalog_store import CatalogReloads
from velro_graphql.services.events import EventHub, ListenerReadiness
from velro_graphql.services.generations.webhooks import FalWebhooks
from velro_graphql.services.rate_limits import RateLimits
from velro_graphql.services.runtime import open_runtime
from velro_graphql.worker.runner import running_worker


@asynccontextmanager
async def open_app_state(
    settings: Settings, *, run_worker: bool = False
) -> AsyncIterator[AppState]:
    """Start what the API stands on; close it all, in reverse order, on the way out."""
    async with AsyncExitStack() as stack:
        runtime = await stack.enter_async_context(open_runtime(settings))
        hub = EventHub(runtime.dsn, on_reconnect=runtime.metrics.listen_reconnects.inc)
        await hub.start()
        stack.push_async_callback(hub.stop)
        reloads = CatalogReloads(runtime.reload_models)
        hub.add_listener(reloads)
        stack.push_async_callback(reloads.close)
        runtime.readiness.add(ListenerReadiness(hub))
        if run_worker:
            await stack.enter_async_context(running_worker(runtime))
        verifier, rate_limits = make_verifier(settings), RateLimits(settings)
        await verifier.watch_keys(runtime.readiness)
        await rate_limits.watch(runtime.readiness)
        yield AppState(
            runtime=runtime,
            verifier=verifier,
            hub=hub,
            webhooks=FalWebhooks(runtime),
            creates_auth_users=not await users.supabase_auth_present(runtime.pool),
            rate_limits=rate_limits,
            persisted_queries=PersistedQueries(
                known_file=settings.persisted_queries_file,
                only_known=settings.persisted_queries_only,
                max_bytes=settings.persisted_queries_max_bytes,
            ),
            metrics=Metrics(runtime.metrics.registry),
        )


def make_verifier(settings: Settings) -> TokenVerifier:
    secret = settings.local_jwt_secret() if settings.embedded else settings.supabase_jwt_secret
    return TokenVerifier(
        hs256_secret=secret,
        jwks_url=settings.resolved_jwks_url,
        issuer=settings.jwt_issuer,
        leeway=settings.jwt_leeway_seconds,
        signature_hint=_signature_hint(settings),
    )


def _signature_hint(settings: Settings) -> str | None:
    """Which secret a badly signed token should have used; never the secret itself, and no
    server paths outside the embedded default."""
    if settings.supabase_jwt_secret:
        return "this server verifies HS256 tokens with its SUPABASE_JWT_SECRET."
    if not settings.embedded:
        return None
    home = settings.velro_home
    return (
        f"this server verifies local tokens with the secret in {home / 'jwt_secret'}; "
        f"run `velro-graphql token` with VELRO_HOME={home}."
    )
