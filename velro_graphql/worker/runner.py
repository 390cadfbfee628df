"""The worker loop: claim due jobs, advance them concurrently, keep leases alive, reap, copy.

Any number of workers (inside `serve` or as `velro-graphql worker`) share one database:
claims use `FOR UPDATE SKIP LOCKED` and leases, so each job runs in one place at a time and a
crashed worker's jobs are taken over when its lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable
from uuid import UUID

from velro_graphql.config import Settings
from velro_graphql.entities import Job
from velro_graphql.services import uploads
from velro_graphql.services.generations import outputs, run
from velro_graphql.services.runtime import Runtime, open_runtime
from velro_graphql.worker.metrics_server import serving_metrics

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, rt: Runtime, *, name: str | None = None) -> None:
        self.rt = rt
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._running: dict[UUID, asyncio.Task[None]] = {}
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Work until `stop()`; then wait for running steps and give back their leases."""
        heartbeat = asyncio.create_task(self._heartbeat())
        housekeeping = asyncio.create_task(self._housekeeping())
        try:
            while not self._stopping.is_set():
                claimed = await self._claim()
                if not claimed:
                    await self._idle()
        finally:
            heartbeat.cancel()
            housekeeping.cancel()
            await self._drain()
            await run.release_all(self.rt, owner=self.name)

    def stop(self) -> None:
        self._stopping.set()

    async def _claim(self) -> int:
        free = self.rt.settings.worker_concurrency - len(self._running)
        if free <= 0:
            return 0
        try:
            claimed = await run.claim(self.rt, owner=self.name, limit=free)
        except Exception:
            log.exception("worker %s: claiming jobs failed", self.name)
            return 0
        for job in claimed:
            self._start(job)
        return len(claimed)

    def _start(self, job: Job) -> None:
        task = asyncio.create_task(self._advance(job))
        self._running[job.generation_id] = task
        task.add_done_callback(lambda _: self._running.pop(job.generation_id, None))

    async def _advance(self, job: Job) -> None:
        try:
            await run.advance(self.rt, job, owner=self.name)
        except Exception:
            # The lease runs out and another attempt follows; the deadline bounds the damage.
            log.exception("worker %s: job %s failed unexpectedly", self.name, job.generation_id)

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), self.rt.settings.worker_idle_seconds)

    async def _heartbeat(self) -> None:
        interval = self.rt.settings.worker_lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            if self._running:
                await _logged(run.renew(self.rt, list(self._running), owner=self.name))

    async def _housekeeping(self) -> None:
        while True:
            await _logged(run.reap_overdue(self.rt))
            await _logged(outputs.copy_pending(self.rt))
            await _logged(uploads.remove_stale(self.rt))
            await asyncio.sleep(self.rt.settings.worker_housekeeping_seconds)

    async def _drain(self) -> None:
        """Let running steps finish; cancel what is still running after WORKER_DRAIN_SECONDS,
        so no step goes on after its lease is given back (another worker may then take it)."""
        if not self._running:
            return
        timeout = self.rt.settings.worker_drain_seconds
        _, late = await asyncio.wait(list(self._running.values()), timeout=timeout)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)


async def _logged(step: Awaitable[object]) -> None:
    try:
        await step
    except Exception:
        log.exception("worker housekeeping failed")


@contextlib.asynccontextmanager
async def running_worker(rt: Runtime) -> AsyncIterator[Worker]:
    """Run a worker in the background while the block runs; stop it gracefully after."""
    worker = Worker(rt)
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await task


async def run_until_signalled(settings: Settings, *, metrics_host: str = "0.0.0.0") -> None:
    """`velro-graphql worker`: run jobs until SIGINT or SIGTERM, then release leases; serve
    /metrics and /health on METRICS_PORT when it is set."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        rt = await stack.enter_async_context(open_runtime(settings))
        if settings.metrics_port is not None:
            serving = serving_metrics(rt, host=metrics_host, port=settings.metrics_port)
            await stack.enter_async_context(serving)
        worker = await stack.enter_async_context(running_worker(rt))
        log.info("worker %s started", worker.name)
        await stop.wait()
