"""Readiness: whether this process should take traffic, and what is failing and why."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from velro_graphql.db.pool import Pool, ping, unavailable
from velro_graphql.services.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReadinessReport:
    ready: bool
    # Every failing dependency with why, blocking or not.
    failing: dict[str, str]
    # The failing ones that leave the process ready: a fallback serves meanwhile.
    degraded: list[str]


async def check_readiness(runtime: Runtime) -> ReadinessReport:
    """Ping the database and read every other dependency's last known state."""
    failing = runtime.readiness.failing()
    reasons = {reported.name: reported.reason or reported.state for reported in failing}
    database = await database_failure(runtime.pool)
    if database is not None:
        reasons = {"database": database, **reasons}
    blocked = database is not None or any(reported.blocking for reported in failing)
    degraded = [reported.name for reported in failing if not reported.blocking]
    return ReadinessReport(ready=not blocked, failing=reasons, degraded=degraded)


async def database_failure(pool: Pool) -> str | None:
    """Why the database does not answer, or None when it does."""
    try:
        if await ping(pool):
            return None
    except Exception as error:
        # No traceback: load balancers ask every few seconds while the database is away.
        log.warning("readiness: the database does not answer: %r", error)
        return f"Postgres does not answer: {error!r}"
    return "Postgres answered SELECT 1 with nothing"


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` means the database is out of reach for now (worth a retry)."""
    return unavailable(error)
