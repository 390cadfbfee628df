"""Start-up: everything the app stands on, built once and closed in reverse order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx

from velro_graphql.api.auth import TokenVerifier
from velro_graphql.api.context import Services
from velro_graphql.config import Settings
from velro_graphql.db.database import open_database
from velro_graphql.providers.base import Provider
from velro_graphql.providers.fal import FalProvider
from velro_graphql.providers.fal_webhooks import FalWebhookVerifier
from velro_graphql.providers.simulator import SimulatorProvider
from velro_graphql.services import catalog, users
from velro_graphql.services.events import EventHub
from velro_graphql.services.runtime import Runtime
from velro_graphql.storage.base import Storage
from velro_graphql.storage.local import LocalStorage
from velro_graphql.storage.supabase import SupabaseStorage
from velro_graphql.worker.runner import Worker

log = logging.getLogger(__name__)


@asynccontextmanager
async def open_services(settings: Settings, *, run_worker: bool = False) -> AsyncIterator[Services]:
    """Start the database (migrated when embedded), providers, storage, listener and worker."""
    settings.check()
    models = catalog.load_catalog()
    async with AsyncExitStack() as stack:
        database = await stack.enter_async_context(open_database(settings))
        await catalog.mirror_catalog(database.pool, models)
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
        runtime = Runtime(
            settings=settings,
            pool=database.pool,
            providers=await _providers(settings, stack),
            storage=await _storage(settings, stack),
            http=http,
            models={m.id: m for m in models},
        )
        hub = EventHub(database.dsn)
        await hub.start()
        stack.push_async_callback(hub.stop)
        if run_worker:
            await stack.enter_async_context(_running_worker(runtime))
        yield Services(
            settings=settings,
            pool=database.pool,
            verifier=make_verifier(settings),
            catalog=models,
            runtime=runtime,
            hub=hub,
            webhooks=FalWebhookVerifier(settings.fal_webhook_jwks_url, http),
            creates_auth_users=not await users.supabase_auth_present(database.pool),
        )


def make_verifier(settings: Settings) -> TokenVerifier:
    secret = settings.local_jwt_secret() if settings.embedded else settings.supabase_jwt_secret
    return TokenVerifier(
        hs256_secret=secret, jwks_url=settings.resolved_jwks_url, issuer=settings.jwt_issuer
    )


async def _providers(settings: Settings, stack: AsyncExitStack) -> dict[str, Provider]:
    # The simulator always runs, so generations it started still finish after FAL_KEY is set.
    providers: dict[str, Provider] = {
        "simulator": SimulatorProvider(
            queue_seconds=settings.simulator_queue_seconds,
            run_seconds=settings.simulator_run_seconds,
        )
    }
    if settings.fal_key:
        providers["fal"] = FalProvider(
            settings.fal_key, poll_interval=settings.provider_poll_seconds
        )
    for provider in providers.values():
        stack.push_async_callback(provider.close)
    return providers


async def _storage(settings: Settings, stack: AsyncExitStack) -> Storage:
    storage: Storage
    if settings.supabase_url and settings.supabase_service_role_key:
        supabase = SupabaseStorage(settings.supabase_url, settings.supabase_service_role_key)
        stack.push_async_callback(supabase.close)
        await supabase.ensure_buckets(
            max_image_bytes=settings.max_image_bytes, max_video_bytes=settings.max_video_bytes
        )
        return supabase
    storage = LocalStorage(
        settings.velro_home / "files",
        secret=settings.local_storage_secret(),
        base_url=settings.public_base_url or f"http://127.0.0.1:{settings.port}",
    )
    stack.push_async_callback(storage.close)
    return storage


@asynccontextmanager
async def _running_worker(runtime: Runtime) -> AsyncIterator[Worker]:
    worker = Worker(runtime)
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task
