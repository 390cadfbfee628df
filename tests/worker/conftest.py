"""Fixtures for driving the real worker: runtimes on the test database, the fake fal server,
and a `Harness` that starts generations and steps their jobs the way a worker does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from tests.conftest import instant
from tests.factories import make_caller
from tests.fakes.fal_server import FakeFal
from velro_graphql.api.app import create_app
from velro_graphql.config import Settings
from velro_graphql.db import generation_updates
from velro_graphql.db import outputs as output_rows
from velro_graphql.entities import Caller, Generation, Output
from velro_graphql.services.generations import run
from velro_graphql.services.generations.start import StartInput, start_generation
from velro_graphql.services.runtime import Runtime, open_runtime
from velro_graphql.services.users import KnownUsers, ensure_user

IMAGE_MODEL = "fal-ai/flux-pro"  # 50 credits: the 1000 welcome credits cover exactly 20
FAL_KEY = "test-fal-key-123456"
OWNER = "test-worker"
APP_URL = "http://velro.test"
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")


class Harness:
    """One runtime, and what a test does with it: users, starts, worker steps, reads."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._known = KnownUsers()

    @property
    def pool(self) -> asyncpg.Pool:
        return self.rt.pool

    async def user(self, email: str = "ada@example.com") -> Caller:
        """A signed-in user with the 1000 welcome credits."""
        caller = make_caller(email)
        await ensure_user(
            self.pool, caller.user_id, email, known=self._known, create_auth_user=True
        )
        return caller

    async def start(
        self,
        caller: Caller,
        *,
        model_id: str = IMAGE_MODEL,
        prompt: str = "a red fox",
        **given: Any,
    ) -> Generation:
        started = await start_generation(
            self.rt, caller, StartInput(model_id=model_id, prompt=prompt, **given)
        )
        return started.generation

    async def step(self, *, wake: bool = False) -> int:
        """Claim the due jobs and advance each one step, as a worker does; `wake` first makes
        every unleased job due (skipping backoff delays)."""
        if wake:
            async with self.pool.acquire() as conn:
                await conn.execute(
                    "UPDATE generation_jobs SET run_at = now() WHERE lease_owner IS NULL"
                )
        claimed = await run.claim(self.rt, owner=OWNER, limit=10)
        for job in claimed:
            await run.advance(self.rt, job, owner=OWNER)
        return len(claimed)

    async def drive(
        self, generation_id: UUID, *, until: tuple[str, ...] = TERMINAL, steps: int = 40
    ) -> Generation:
        """Step (waking backoffs) until the generation reaches one of `until`."""
        for _ in range(steps):
            generation = await self.generation(generation_id)
            if generation.status in until:
                return generation
            await self.step(wake=True)
        raise AssertionError(f"{generation_id} never reached {until}: {generation}")

    async def wait_for(
        self, generation_id: UUID, *, until: tuple[str, ...] = TERMINAL, timeout: float = 10.0
    ) -> Generation:
        """Wait (while a worker runs elsewhere) for the generation to reach one of `until`."""
        async with asyncio.timeout(timeout):
            while True:
                generation = await self.generation(generation_id)
                if generation.status in until:
                    return generation
                await asyncio.sleep(0.05)

    async def generation(self, generation_id: UUID) -> Generation:
        async with self.pool.acquire() as conn:
            found = await generation_updates.get(conn, generation_id)
        assert found is not None
        return found

    async def outputs(self, caller: Caller, generation_id: UUID) -> list[Output]:
        async with self.pool.acquire() as conn:
            found = await output_rows.by_generations(conn, caller.user_id, [generation_id])
        return found[generation_id]

    async def ledger(self, caller: Caller) -> list[tuple[str, int, UUID | None]]:
        """The user's ledger rows, oldest first, as (kind, amount, generation id)."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT kind, amount, generation_id FROM credit_transactions"
                " WHERE user_id = $1 ORDER BY id",
                caller.user_id,
            )
        return [(r["kind"], r["amount"], r["generation_id"]) for r in rows]

    async def balance(self, caller: Caller) -> int:
        async with self.pool.acquire() as conn:
            balance: int = await conn.fetchval(
                "SELECT credits_balance FROM profiles WHERE id = $1", caller.user_id
            )
        return balance

    async def kinds_for(self, caller: Caller, generation_id: UUID) -> list[str]:
        """The ledger kinds booked against one generation, oldest first."""
        return [kind for kind, _, gid in await self.ledger(caller) if gid == generation_id]

    async def assert_books_balance(self, caller: Caller) -> None:
        ledger = await self.ledger(caller)
        assert sum(amount for _, amount, _ in ledger) == await self.balance(caller)

    async def job(self, generation_id: UUID) -> asyncpg.Record | None:
        async with self.pool.acquire() as conn:
            job: asyncpg.Record | None = await conn.fetchrow(
                "SELECT *, run_at - now() AS due_in FROM generation_jobs WHERE generation_id = $1",
                generation_id,
            )
        return job


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings with a worker fast enough for tests and an instant simulator."""
    return instant(settings)


@pytest.fixture
def fal_settings(settings: Settings, fake: FakeFal) -> Settings:
    """Settings that send generations to the fake fal and accept its plain-http output URLs."""
    return settings.model_copy(
        update={
            "fal_key": FAL_KEY,
            "allow_insecure_downloads": True,
            "fal_webhook_jwks_url": f"{fake.url}/.well-known/jwks.json",
        }
    )


OpenHarness = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def open_harness(fal_settings: Settings) -> AsyncIterator[OpenHarness]:
    """Open a runtime (fal settings, changed by keyword) for the test; closed after it."""
    async with AsyncExitStack() as stack:

        async def open_(base: Settings = fal_settings, **overrides: Any) -> Harness:
            settings = base.model_copy(update=overrides)
            return Harness(await stack.enter_async_context(open_runtime(settings)))

        yield open_


@pytest.fixture
async def fal(open_harness: OpenHarness) -> Harness:
    """A harness whose generations run on the fake fal (local storage)."""
    return await open_harness()


@pytest.fixture
async def sim(open_harness: OpenHarness, settings: Settings) -> Harness:
    """A harness whose generations run on the simulator at zero delay (local storage)."""
    return await open_harness(settings)


@pytest.fixture
def harness_for() -> Callable[[Runtime], Harness]:
    """Wrap a runtime opened elsewhere (such as an app's) in a Harness."""
    return Harness


@dataclass
class App:
    http: httpx.AsyncClient
    worker: Harness  # over the app's own runtime


@asynccontextmanager
async def open_app(fal_settings: Settings, **overrides: Any) -> AsyncIterator[App]:
    """The whole HTTP app in-process, on the fake fal, with webhooks to `APP_URL`; its jobs
    poll only every 30 s on their own, so a test sees what wakes them."""
    settings = fal_settings.model_copy(
        update={"public_base_url": APP_URL, "provider_poll_seconds": 30.0, **overrides}
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=APP_URL) as http:
            yield App(http, Harness(application.state.services.runtime))


@pytest.fixture
async def app(fal_settings: Settings) -> AsyncIterator[App]:
    async with open_app(fal_settings) as opened:
        yield opened
