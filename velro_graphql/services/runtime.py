"""What generation work needs (database, providers, storage, an HTTP client), opened once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx

from velro_graphql.config import Settings
from velro_graphql.db.database import open_database
from velro_graphql.db.pool import Pool
from velro_graphql.providers.base import Provider
from velro_graphql.providers.breaker import CircuitBreaker
from velro_graphql.providers.fal import FalProvider
from velro_graphql.providers.simulator import SimulatorProvider
from velro_graphql.services import catalog_store
from velro_graphql.services.catalog import Model
from velro_graphql.services.job_metrics import JobMetrics
from velro_graphql.services.readiness import (
    Backoff,
    Dependency,
    ProviderCircuit,
    Readiness,
    Unavailable,
    open_readiness,
)
from velro_graphql.storage.base import Storage, StorageError, StorageRefused
from velro_graphql.storage.local import LocalStorage
from velro_graphql.storage.supabase import SupabaseStorage


@dataclass
class Runtime:
    settings: Settings
    dsn: str
    pool: Pool
    providers: dict[str, Provider]
    storage: Storage
    http: httpx.AsyncClient
    models: dict[str, Model]
    readiness: Readiness
    metrics: JobMetrics
    # Caller sessions take connections first come, first served (db/session.CallerSession).
    caller_turns: asyncio.Semaphore

    @property
    def default_provider(self) -> str:
        """The provider new generations go to: fal when configured, else the simulator."""
        return "fal" if "fal" in self.providers else "simulator"

    async def reload_models(self) -> None:
        """Take the catalog the database holds now (another replica or the CLI changed it)."""
        self.models = await catalog_store.load_models(self.pool)


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Open the database (migrated when embedded, catalog seeded), providers and storage;
    storage that is down at start is retried in the background (see `readiness`)."""
    settings.check()
    async with AsyncExitStack() as stack:
        database = await stack.enter_async_context(open_database(settings))
        await catalog_store.seed_catalog(database.pool)
        providers = await _providers(settings, stack)
        storage = await _storage(settings, stack)
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
        # Entered last, so its probes stop before what they probe closes.
        readiness = await stack.enter_async_context(open_readiness(_backoff(settings)))
        runtime = Runtime(
            settings=settings,
            dsn=database.dsn,
            pool=database.pool,
            providers=providers,
            storage=storage,
            http=http,
            models=await catalog_store.load_models(database.pool),
            readiness=readiness,
            metrics=JobMetrics(refresh_seconds=settings.metrics_refresh_seconds),
            caller_turns=asyncio.Semaphore(settings.db_pool_size),
        )
        readiness.add(ProviderCircuit(providers[runtime.default_provider]))
        await readiness.watch(Dependency("storage"), lambda: _prepare(storage))
        yield runtime


def _backoff(settings: Settings) -> Backoff:
    return Backoff(
        check_seconds=settings.readiness_check_seconds,
        retry_max_seconds=settings.readiness_retry_max_seconds,
        misconfigured_seconds=settings.readiness_misconfigured_retry_seconds,
    )


async def _prepare(storage: Storage) -> None:
    """Create the buckets (once they can be), or say why storage cannot be used."""
    try:
        await storage.prepare()
    except StorageRefused as error:
        raise Unavailable(str(error), misconfigured=True) from error
    except StorageError as error:
        raise Unavailable(str(error)) from error


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
            settings.fal_key,
            poll_interval=settings.provider_poll_seconds,
            breaker=CircuitBreaker(cool_down=settings.provider_circuit_cool_down_seconds),
        )
    for provider in providers.values():
        stack.push_async_callback(provider.close)
    return providers


async def _storage(settings: Settings, stack: AsyncExitStack) -> Storage:
    if settings.supabase_url and settings.supabase_service_role_key:
        supabase = SupabaseStorage(
            settings.supabase_url,
            settings.supabase_service_role_key,
            max_image_bytes=settings.max_image_bytes,
            max_video_bytes=settings.max_video_bytes,
            max_upload_bytes=settings.max_upload_bytes,
        )
        stack.push_async_callback(supabase.close)
        return supabase
    local = LocalStorage(
        settings.velro_home / "files",
        secret=settings.local_storage_secret(),
        base_url=settings.public_base_url or f"http://127.0.0.1:{settings.port}",
    )
    stack.push_async_callback(local.close)
    return local
