"""SQL of model_timings: each model's moving averages of observed queue wait and run time,
updated by triggers as generations complete (migration 0008) and move up the queue (0011)."""

from __future__ import annotations

from dataclasses import dataclass

from velro_graphql.db.session import Queryable


@dataclass(frozen=True, slots=True)
class Timing:
    queue_seconds: float
    run_seconds: float
    samples: int
    position_seconds: float | None = None  # one place in the queue; None: not seen move yet


async def by_models(conn: Queryable, model_ids: list[str]) -> dict[str, Timing]:
    """The observed timings of the models that have completed generations."""
    rows = await conn.fetch(
        "SELECT model_id, queue_seconds, run_seconds, samples, position_seconds FROM model_timings"
        " WHERE model_id = ANY($1::text[])",
        model_ids,
    )
    return {r["model_id"]: Timing(*tuple(r)[1:]) for r in rows}
