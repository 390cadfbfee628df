"""When an unfinished generation should be done: from its model's observed queue wait, queue
speed and run time (moving averages kept by the database as generations move and complete; the
catalog's typical duration until there are some), its own queue position and progress, and the
time it has already waited."""

from __future__ import annotations

from datetime import datetime, timedelta

from velro_graphql.db import timings
from velro_graphql.db.session import Queryable
from velro_graphql.db.timings import Timing
from velro_graphql.entities import Generation, GenerationStatus

__all__ = ["Timing", "estimate_completion", "timings_of"]

# Below this much progress, the elapsed run time says too little about what remains.
_TRUSTED_PROGRESS = 0.1


async def timings_of(conn: Queryable, model_ids: list[str]) -> dict[str, Timing]:
    """The models' observed timings, one row each (no scan of history)."""
    return await timings.by_models(conn, model_ids)


def estimate_completion(
    generation: Generation, timing: Timing | None, *, typical_seconds: float, now: datetime
) -> datetime | None:
    """The expected completion time; None once the generation is finished."""
    if generation.finished:
        return None
    queue, run = (timing.queue_seconds, timing.run_seconds) if timing else (0, typical_seconds)
    if generation.status == GenerationStatus.QUEUED:
        return _start(generation, timing, queue, now) + timedelta(seconds=run)
    started = generation.started_at or now
    remaining = max((started - now).total_seconds() + run, 0.0)
    progress = generation.progress or 0.0
    if progress >= _TRUSTED_PROGRESS:
        by_progress = (now - started).total_seconds() * (1 - progress) / progress
        remaining = (remaining + by_progress) / 2
    return now + timedelta(seconds=remaining)


def _start(generation: Generation, timing: Timing | None, queue: float, now: datetime) -> datetime:
    """When a queued generation should start: after the model's usual wait, or, once its
    position and the queue's speed are known, halfway between that and (position + 1) places."""
    by_wait = max(generation.created_at + timedelta(seconds=queue), now)
    position = generation.queue_position
    if position is None or timing is None or timing.position_seconds is None:
        return by_wait
    by_position = now + timedelta(seconds=(position + 1) * timing.position_seconds)
    return by_wait + (by_position - by_wait) / 2
