"""`velro-graphql worker` processes on one database: a killed worker's job is resumed by the
next one without a second fal submit or a second charge; SIGTERM gives its leases back."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.factories import TEST_JWT_SECRET
from tests.fakes.fal_server import FakeFal, serve_fake_fal
from velro_graphql.config import Settings

StartWorker = Callable[[], subprocess.Popen[bytes]]


@pytest.fixture(scope="module")
def tls_fal() -> Iterator[FakeFal]:
    """A fake fal over https, which fal-client in another process reaches through its env."""
    with serve_fake_fal(tls=True) as fake:
        yield fake


@pytest.fixture
def worker_fal(tls_fal: FakeFal) -> FakeFal:
    tls_fal.reset()
    return tls_fal


@pytest.fixture
def start_worker(worker_fal: FakeFal, database_url: str, tmp_path: Path) -> Iterator[StartWorker]:
    """Start `velro-graphql worker` processes; any still running at the end are killed."""
    inherited = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env = inherited | worker_fal.env() | {
        "DATABASE_URL": database_url,
        "SUPABASE_JWT_SECRET": TEST_JWT_SECRET,
        "FAL_KEY": "test-fal-key-123456",
        "VELRO_HOME": str(tmp_path / "worker-home"),
        "WORKER_LEASE_SECONDS": "5",
        "PROVIDER_POLL_SECONDS": "0.1",
        "WORKER_IDLE_SECONDS": "0.05",
        "WORKER_HOUSEKEEPING_SECONDS": "0.2",
        "ALLOW_INSECURE_DOWNLOADS": "1",
    }  # fmt: skip
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"worker-{len(started)}.log", "wb")  # noqa: SIM115
        with log:
            process = subprocess.Popen(
                [sys.executable, "-m", "velro_graphql", "worker"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


async def _exit_code(process: subprocess.Popen[bytes], timeout: float = 15) -> int:
    return await asyncio.to_thread(process.wait, timeout)


async def test_a_killed_worker_is_resumed_without_a_second_submit_or_charge(
    worker_fal: FakeFal, start_worker: StartWorker, open_harness: Any
) -> None:
    worker_fal.script(queued=1, in_progress=20)
    db = await open_harness()
    caller = await db.user()
    generation = await db.start(caller)

    first = start_worker()
    running = await db.wait_for(generation.id, until=("IN_PROGRESS",), timeout=20)
    first.send_signal(signal.SIGKILL)
    assert await _exit_code(first) == -signal.SIGKILL

    assert running.provider_request_id in worker_fal.jobs
    polls_when_killed = worker_fal.jobs[running.provider_request_id].polls
    assert polls_when_killed < 1 + 20  # it was killed mid-job

    start_worker()
    done = await db.wait_for(generation.id, timeout=30)

    assert done.status == "COMPLETED"
    assert done.provider_request_id == running.provider_request_id
    assert worker_fal.submit_count() == 1
    (output,) = await db.outputs(caller, generation.id)
    assert output.stored and output.content_type == "image/png"
    assert await db.kinds_for(caller, generation.id) == ["charge"]
    assert await db.balance(caller) == 1000 - generation.cost
    await db.assert_books_balance(caller)


async def test_sigterm_finishes_the_step_in_flight_and_releases_its_lease(
    worker_fal: FakeFal, start_worker: StartWorker, open_harness: Any
) -> None:
    worker_fal.script(queued=0, in_progress=0)
    worker_fal.slow_submit(1.0)
    db = await open_harness()
    caller = await db.user()
    generation = await db.start(caller)

    worker = start_worker()
    async with asyncio.timeout(20):
        while worker_fal.submit_count() == 0:  # fal accepted it; its reply is on the way
            await asyncio.sleep(0.02)
    assert (await db.job(generation.id))["lease_owner"] is not None
    worker.send_signal(signal.SIGTERM)
    assert await _exit_code(worker) == 0

    (request_id,) = worker_fal.jobs
    assert (await db.generation(generation.id)).provider_request_id == request_id
    job = await db.job(generation.id)
    assert job["lease_owner"] is None and job["lease_expires_at"] is None

    start_worker()
    done = await db.wait_for(generation.id, timeout=30)
    assert done.status == "COMPLETED" and worker_fal.submit_count() == 1
    assert await db.kinds_for(caller, generation.id) == ["charge"]
