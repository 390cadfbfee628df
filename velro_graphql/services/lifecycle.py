"""Starting, cancelling, retrying and deleting generations; every terminal change with its refund.

A generation, its charge and its job are written in one transaction; a generation leaves
QUEUED/IN_PROGRESS exactly once (the UPDATE's status guard), and FAILED or CANCELLED refunds
it in that same transaction (the ledger's unique index backs this up).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID

from velro_graphql.db import credits, jobs, outputs, projects
from velro_graphql.db import generation_updates as updates
from velro_graphql.db.pool import Pool
from velro_graphql.db.session import Queryable, as_service
from velro_graphql.entities import Caller, Generation
from velro_graphql.errors import BadUserInput, InsufficientCredits, NotFound, UpstreamUnavailable
from velro_graphql.services.credits import current_balance
from velro_graphql.services.generation_input import Checked
from velro_graphql.storage.base import Storage, StorageError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Started:
    generation: Generation
    balance: int
    created: bool


async def start(pool: Pool, caller: Caller, checked: Checked) -> Started:
    """Create the generation, charge it and queue its job, all or nothing."""
    async with as_service(pool) as conn:
        existing = await _made_by_key(conn, caller.user_id, checked)
        if existing is not None:
            return existing
        await _check_project(conn, caller.user_id, checked.project_id)
        generation = await updates.insert(conn, checked.values(caller.user_id))
        if generation is None:  # a concurrent request with the same key won the race
            raced = await _made_by_key(conn, caller.user_id, checked)
            assert raced is not None
            return raced
        charge = await credits.apply(
            conn,
            caller.user_id,
            amount=-generation.cost,
            kind="charge",
            generation_id=generation.id,
            description=f"Generation with {generation.model_id}",
        )
        if charge is None:
            available = await current_balance(conn, caller.user_id)
            raise InsufficientCredits(required=generation.cost, available=available)
        await jobs.insert(conn, generation.id)
    return Started(generation, charge.balance_after, created=True)


async def _made_by_key(conn: Queryable, user_id: UUID, checked: Checked) -> Started | None:
    """The generation the input's idempotency key already made (if the input is the same)."""
    if not checked.idempotency_key:
        return None
    found = await updates.by_idempotency_key(conn, user_id, checked.idempotency_key)
    if found is None:
        return None
    generation, input_hash = found
    if input_hash is not None and input_hash != checked.input_hash():
        raise BadUserInput(
            "This idempotencyKey was used for a different input: use a new key.",
            field="idempotencyKey",
        )
    return Started(generation, await current_balance(conn, user_id), created=False)


async def _check_project(conn: Queryable, user_id: UUID, project_id: UUID | None) -> None:
    if project_id is None:
        return
    if not await projects.hold_own(conn, user_id, project_id):
        raise NotFound("No such project.", field="projectId")


async def finish(
    conn: Queryable,
    generation_id: UUID,
    *,
    status: str,
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
    if status in ("FAILED", "CANCELLED") and ended.cost > 0:
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


async def cancel(pool: Pool, caller: Caller, generation_id: UUID) -> Generation:
    """Cancel one of the caller's unfinished generations and refund it."""
    async with as_service(pool) as conn:
        ended = await finish(conn, generation_id, status="CANCELLED", user_id=caller.user_id)
        if ended is None:
            await _refuse_finished(conn, caller.user_id, generation_id, "cancel")
    assert ended is not None
    return ended


async def _refuse_finished(conn: Queryable, user_id: UUID, generation_id: UUID, verb: str) -> None:
    found = await updates.get(conn, generation_id)
    if found is None or found.user_id != user_id:
        raise NotFound("No such generation.", field="id")
    raise BadUserInput(f"Cannot {verb} a generation that is already {found.status}.", field="id")


def not_finished(generation: Generation, verb: str) -> BadUserInput:
    return BadUserInput(
        f"Cannot {verb} a generation that is still {generation.status}.", field="id"
    )


async def load_own(pool: Pool, caller: Caller, generation_id: UUID) -> Generation:
    async with pool.acquire() as conn:
        found = await updates.get(conn, generation_id)
    if found is None or found.user_id != caller.user_id:
        raise NotFound("No such generation.", field="id")
    return found


async def delete(
    pool: Pool, storage: Storage, caller: Caller, generation_id: UUID
) -> Generation | None:
    """Delete one of the caller's generations and its files; return it if this ended it.

    The generation is ended first (cancelled and refunded if it was running), so a worker
    finishing it meanwhile discards its own files instead of adding some after the listing.
    If storage then fails, the row stays (cancelled) and the user can delete it again.
    """
    async with as_service(pool) as conn:
        ended = await finish(conn, generation_id, status="CANCELLED", user_id=caller.user_id)
        files = await outputs.stored_files(conn, caller.user_id, generation_id)
        found = await updates.get(conn, generation_id)
    if found is None or found.user_id != caller.user_id:
        raise NotFound("No such generation.", field="id")
    try:
        for bucket, paths in files.items():
            await storage.remove(bucket, paths)
    except StorageError as error:
        raise UpstreamUnavailable("Storage is unavailable; try again shortly.") from error
    async with as_service(pool) as conn:
        await updates.delete(conn, caller.user_id, generation_id)
    return ended
