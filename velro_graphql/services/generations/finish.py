"""Ending generations: cancel, delete, and every terminal change with its refund.

A generation leaves QUEUED/IN_PROGRESS exactly once (the UPDATE's status guard), and FAILED or
CANCELLED refunds it in that same transaction (the ledger's unique index backs this up).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from velro_graphql.db import credits, jobs, outputs
from velro_graphql.db import generation_updates as updates
from velro_graphql.db.session import Queryable, as_service
from velro_graphql.entities import Caller, Generation, GenerationStatus
from velro_graphql.errors import BadUserInput, NotFound, UpstreamUnavailable
from velro_graphql.services.credits import current_balance
from velro_graphql.services.generations.requests import cancel_at_provider
from velro_graphql.services.runtime import Runtime
from velro_graphql.storage.base import StorageError


@dataclass(frozen=True, slots=True)
class Cancelled:
    generation: Generation
    balance: int


async def finish(
    conn: Queryable,
    generation_id: UUID,
    *,
    status: GenerationStatus,
    error_code: str | None = None,
    error_message: str | None = None,
    user_id: UUID | None = None,
) -> Generation | None:
    """End an unfinished generation (refunding FAILED and CANCELLED); None if already ended."""
    ended = await updates.finish(
        conn,
        generation_id,
        status=status,
        error_code=error_code,
        error_message=error_message,
        user_id=user_id,
    )
    if ended is None:
        return None
    if status in (GenerationStatus.FAILED, GenerationStatus.CANCELLED) and ended.cost > 0:
        await credits.apply(
            conn,
            ended.user_id,
            amount=ended.cost,
            kind="refund",
            generation_id=ended.id,
            description=f"Refund: generation {status.lower()}",
        )
    await jobs.delete(conn, generation_id)
    return ended


async def cancel_generation(rt: Runtime, caller: Caller, generation_id: UUID) -> Cancelled:
    """Cancel and refund an unfinished generation, then ask its provider to stop; return it
    with the caller's balance after the refund."""
    async with as_service(rt.pool) as conn:
        ended = await finish(
            conn, generation_id, status=GenerationStatus.CANCELLED, user_id=caller.user_id
        )
        if ended is None:
            await _refuse_finished(conn, caller.user_id, generation_id, "cancel")
        balance = await current_balance(conn, caller.user_id)
    assert ended is not None
    rt.metrics.generation_ended(ended)
    await cancel_at_provider(rt, ended)
    return Cancelled(ended, balance)


async def delete_generation(rt: Runtime, caller: Caller, generation_id: UUID) -> int:
    """Delete a generation and its stored files; an unfinished one is cancelled and refunded
    (and its provider asked to stop, so nobody pays for work that nobody will see). Return the
    caller's balance after the refund.

    The generation is ended first, so a worker finishing it meanwhile discards its own files
    instead of adding some after the listing. If storage then fails, the row stays (cancelled)
    and the user can delete it again.
    """
    async with as_service(rt.pool) as conn:
        ended = await finish(
            conn, generation_id, status=GenerationStatus.CANCELLED, user_id=caller.user_id
        )
        files = await outputs.stored_files(conn, caller.user_id, generation_id)
        found = await updates.get(conn, generation_id)
        balance = await current_balance(conn, caller.user_id)
    if found is None or found.user_id != caller.user_id:
        raise NotFound("No such generation.", field="id")
    try:
        for bucket, paths in files.items():
            await rt.storage.remove(bucket, paths)
    except StorageError as error:
        raise UpstreamUnavailable("Storage is unavailable; try again shortly.") from error
    async with as_service(rt.pool) as conn:
        await updates.delete(conn, caller.user_id, generation_id)
    if ended is not None:
        rt.metrics.generation_ended(ended)
        await cancel_at_provider(rt, ended)
    return balance


async def load_own(rt: Runtime, caller: Caller, generation_id: UUID) -> Generation:
    async with rt.pool.acquire() as conn:
        found = await updates.get(conn, generation_id)
    if found is None or found.user_id != caller.user_id:
        raise NotFound("No such generation.", field="id")
    return found


def not_finished(generation: Generation, verb: str) -> BadUserInput:
    return BadUserInput(
        f"Cannot {verb} a generation that is still {generation.status}.", field="id"
    )


async def _refuse_finished(conn: Queryable, user_id: UUID, generation_id: UUID, verb: str) -> None:
    found = await updates.get(conn, generation_id)
    if found is None or found.user_id != user_id:
        raise NotFound("No such generation.", field="id")
    raise BadUserInput(f"Cannot {verb} a generation that is already {found.status}.", field="id")
