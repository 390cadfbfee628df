"""One step of a generation's durable job: submit once, poll, store, finish.

The provider's request id is committed the moment the provider accepts the request, so a
worker that resumes a job (after a crash, a lease expiry or a restart) polls that request
and never submits it again.
"""

from __future__ import annotations

import logging
from uuid import UUID

from velro_graphql.backoff import backoff_delay
from velro_graphql.db import generation_updates as updates
from velro_graphql.db import jobs, outputs
from velro_graphql.db.session import as_service
from velro_graphql.entities import Generation, GenerationStatus, Job, Output
from velro_graphql.providers.base import (
    Provider,
    ProviderRequest,
    ProviderStatus,
    RejectedByProvider,
    SubmitOutcomeUnknown,
    TransientProviderError,
)
from velro_graphql.services.generations.finish import finish
from velro_graphql.services.generations.outputs import RetryLater, remove_files, store_outputs
from velro_graphql.services.generations.requests import (
    cancel_at_provider,
    cancel_stray,
    provider_request,
)
from velro_graphql.services.runtime import Runtime
from velro_graphql.storage.base import StorageError

log = logging.getLogger(__name__)

_MAX_BACKOFF = 60.0
_FILTERED = "The provider flagged every output as unsafe; the credits were refunded."


async def claim(rt: Runtime, *, owner: str, limit: int) -> list[Job]:
    async with as_service(rt.pool) as conn:
        return await jobs.claim(
            conn, owner=owner, lease_seconds=rt.settings.worker_lease_seconds, limit=limit
        )


async def advance(rt: Runtime, job: Job, *, owner: str) -> None:
    """Move one job a step; transient failures reschedule it with backoff and jitter."""
    async with rt.pool.acquire() as conn:
        generation = await updates.get(conn, job.generation_id)
    if generation is None or generation.finished:
        async with as_service(rt.pool) as conn:
            await jobs.delete(conn, job.generation_id)
        return
    try:
        delay = await _step(rt, job, generation)
    except (TransientProviderError, StorageError, RetryLater) as error:
        await _retry_later(rt, job, owner, error)
    except RejectedByProvider as error:
        await _fail(rt, generation.id, "PROVIDER_REJECTED", str(error) or "Rejected by provider.")
    else:
        if delay is not None:
            await _reschedule(rt, job.generation_id, owner, delay)


async def _step(rt: Runtime, job: Job, generation: Generation) -> float | None:
    provider = rt.providers.get(generation.provider)
    if provider is None:
        raise TransientProviderError(f"provider {generation.provider} is not configured here")
    request = provider_request(rt, generation)
    if generation.provider_request_id is None:
        waiting = await _submit(rt, job, provider, request)
        return waiting if waiting is not None else rt.settings.provider_poll_seconds
    with rt.metrics.provider_call(provider.name, "status"):
        status = await provider.status(request, generation.provider_request_id)
    return await _apply(rt, provider, generation, request, status)


async def _submit(
    rt: Runtime, job: Job, provider: Provider, request: ProviderRequest
) -> float | None:
    """Submit once; return a delay instead when an earlier submit may have been accepted."""
    if job.submitted_at is not None:
        if request.webhook_url and provider.name == "fal":
            # Its webhook will name the request (and adopt it); the deadline bounds the wait.
            log.warning("%s: an earlier submit may have reached fal; waiting", job.generation_id)
            return rt.settings.provider_poll_seconds * 10
        log.warning("resubmitting %s: an earlier submit got no request id", job.generation_id)
    async with as_service(rt.pool) as conn:
        await jobs.mark_submitting(conn, job.generation_id, True)
    try:
        with rt.metrics.provider_call(provider.name, "submit"):
            request_id = await provider.submit(request)
    except TransientProviderError as error:
        if not isinstance(error, SubmitOutcomeUnknown):  # refused: certainly no job started
            async with as_service(rt.pool) as conn:
                await jobs.mark_submitting(conn, job.generation_id, False)
        raise
    async with as_service(rt.pool) as conn:
        recorded = await updates.set_request_id(conn, job.generation_id, request_id)
    if not recorded:  # cancelled or reaped meanwhile, or a webhook adopted a lost earlier submit
        await cancel_stray(provider, request, request_id)
    return None


async def _apply(
    rt: Runtime,
    provider: Provider,
    generation: Generation,
    request: ProviderRequest,
    status: ProviderStatus,
) -> float | None:
    if status.state == "FAILED":
        await _fail(rt, generation.id, "PROVIDER_ERROR", status.error or "The provider failed.")
        return None
    if status.state == "COMPLETED":
        assert generation.provider_request_id is not None
        with rt.metrics.provider_call(provider.name, "result"):
            result = await provider.result(request, generation.provider_request_id)
        await _record_support(rt, generation.id, status, result.timings)
        if result.all_flagged:
            await _fail(rt, generation.id, "CONTENT_FILTERED", _FILTERED)
            return None
        await _complete(rt, generation, await store_outputs(rt, generation, result.outputs))
        return None
    async with as_service(rt.pool) as conn:
        await updates.record_progress(
            conn,
            generation.id,
            status=status.state,
            queue_position=status.queue_position,
            progress=status.progress,
            logs=_logs(status),
        )
    return rt.settings.provider_poll_seconds


async def _record_support(
    rt: Runtime, generation_id: UUID, status: ProviderStatus, timings: dict[str, float] | None
) -> None:
    """Keep what support needs of a finished request: the provider's timings, its final logs."""
    async with as_service(rt.pool) as conn:
        await updates.record_support(conn, generation_id, logs=_logs(status), timings=timings)


def _logs(status: ProviderStatus) -> list[dict[str, str | None]]:
    return [
        {"message": line.message, "at": line.at.isoformat() if line.at else None}
        for line in status.logs
    ]


async def _complete(rt: Runtime, generation: Generation, kept: list[Output]) -> None:
    if not kept:
        await _fail(rt, generation.id, "OUTPUT_UNAVAILABLE", "No output could be retrieved.")
        return
    async with as_service(rt.pool) as conn:
        ended = await finish(conn, generation.id, status=GenerationStatus.COMPLETED)
        if ended is not None:
            for output in kept:
                await outputs.upsert(conn, output)
    if ended is not None:
        rt.metrics.generation_ended(ended)
    if ended is None and not await _completed_elsewhere(rt, generation.id):
        # Cancelled, timed out or deleted (and refunded) while its outputs were being stored.
        await remove_files(rt.storage, kept)


async def _completed_elsewhere(rt: Runtime, generation_id: UUID) -> bool:
    """Whether another run of this step completed it: then the files at these paths are its."""
    async with rt.pool.acquire() as conn:
        current = await updates.get(conn, generation_id)
    return current is not None and current.status == GenerationStatus.COMPLETED


async def _fail(rt: Runtime, generation_id: UUID, code: str, message: str) -> None:
    async with as_service(rt.pool) as conn:
        ended = await finish(
            conn,
            generation_id,
            status=GenerationStatus.FAILED,
            error_code=code,
            error_message=message[:1000],
        )
    if ended is not None:
        rt.metrics.generation_ended(ended)


async def _retry_later(rt: Runtime, job: Job, owner: str, error: Exception) -> None:
    delay = backoff_delay(job.attempts + 1, first=1.0, cap=_MAX_BACKOFF)
    log.warning("job %s: %s; retrying in %.1fs", job.generation_id, error, delay)
    async with as_service(rt.pool) as conn:
        await jobs.reschedule(
            conn, job.generation_id, owner=owner, delay_seconds=delay, failed=True, error=str(error)
        )


async def _reschedule(rt: Runtime, generation_id: UUID, owner: str, delay: float) -> None:
    async with as_service(rt.pool) as conn:
        await jobs.reschedule(conn, generation_id, owner=owner, delay_seconds=delay)


async def reap_overdue(rt: Runtime, *, limit: int = 50) -> int:
    """Fail (and refund) generations past their deadline; ask their provider to stop."""
    async with rt.pool.acquire() as conn:
        overdue = await updates.overdue(conn, limit=limit)
    reaped = 0
    for generation_id in overdue:
        async with as_service(rt.pool) as conn:
            ended = await finish(
                conn,
                generation_id,
                status=GenerationStatus.FAILED,
                error_code="TIMEOUT",
                error_message="The generation did not finish before its deadline.",
            )
        if ended is not None:
            reaped += 1
            rt.metrics.generation_ended(ended)
            rt.metrics.reaper.labels("timed_out").inc()
            await cancel_at_provider(rt, ended)
    return reaped


async def release_all(rt: Runtime, *, owner: str) -> None:
    async with as_service(rt.pool) as conn:
        await jobs.release_all(conn, owner=owner)


async def renew(rt: Runtime, generation_ids: list[UUID], *, owner: str) -> None:
    async with as_service(rt.pool) as conn:
        await jobs.renew(
            conn, generation_ids, owner=owner, seconds=rt.settings.worker_lease_seconds
        )
