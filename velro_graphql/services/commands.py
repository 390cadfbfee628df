"""What users do to generations: start, cancel, retry, delete."""

from __future__ import annotations

from uuid import UUID

from velro_graphql.entities import Caller, Generation
from velro_graphql.services import jobs, lifecycle
from velro_graphql.services.generation_input import StartInput, check_start
from velro_graphql.services.lifecycle import Started
from velro_graphql.services.runtime import Runtime


async def start_generation(rt: Runtime, caller: Caller, given: StartInput) -> Started:
    """Check, charge and queue a generation (or return the one its idempotency key made)."""
    checked = check_start(
        given,
        rt.models,
        provider=rt.default_provider,
        deadline_override=rt.settings.generation_deadline_seconds,
    )
    return await lifecycle.start(rt.pool, caller, checked)


async def cancel_generation(rt: Runtime, caller: Caller, generation_id: UUID) -> Generation:
    """Cancel and refund an unfinished generation, then ask its provider to stop."""
    ended = await lifecycle.cancel(rt.pool, caller, generation_id)
    await jobs.cancel_at_provider(rt, ended)
    return ended


async def retry_generation(rt: Runtime, caller: Caller, generation_id: UUID) -> Started:
    """Start a new, newly charged generation with the same input as a finished one."""
    source = await lifecycle.load_own(rt.pool, caller, generation_id)
    if not source.finished:
        raise lifecycle.not_finished(source, "retry")
    given = StartInput(
        model_id=source.model_id,
        prompt=source.prompt,
        negative_prompt=source.negative_prompt,
        image_url=source.image_url,
        parameters=source.parameters,
        project_id=source.project_id,
        parent_id=source.id,
    )
    return await start_generation(rt, caller, given)


async def delete_generation(rt: Runtime, caller: Caller, generation_id: UUID) -> None:
    """Delete a generation and its stored files; an unfinished one is cancelled and refunded
    (and its provider asked to stop, so nobody pays for work that nobody will see)."""
    ended = await lifecycle.delete(rt.pool, rt.storage, caller, generation_id)
    if ended is not None:
        await jobs.cancel_at_provider(rt, ended)
