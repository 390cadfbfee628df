"""Job metrics an operator can alert on, exported by every process that runs jobs or serves.

Counters and histograms are this process's; the gauges of the backlog are read from the
database at scrape time (at most every `metrics_refresh_seconds`), so every replica reports
the same backlog whichever worker holds it. README "Metrics" lists each with an alert.
"""

from __future__ import annotations

import contextlib
import hmac
import time
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from velro_graphql.db import job_stats
from velro_graphql.entities import Generation, GenerationStatus
from velro_graphql.providers.base import (
    RejectedByProvider,
    SubmitOutcomeUnknown,
    TransientProviderError,
)

if TYPE_CHECKING:
    from velro_graphql.db.pool import Pool

UNFINISHED = (GenerationStatus.QUEUED, GenerationStatus.IN_PROGRESS)
# Seconds: a queue can hold work for minutes, a video can run for a quarter of an hour.
_BUCKETS = (1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 3600)


class JobMetrics:
    """One registry per process (or app), never the process-global one."""

    def __init__(self, *, refresh_seconds: float = 5.0) -> None:
        self.registry = CollectorRegistry()
        self._refresh_seconds = refresh_seconds
        self._refreshed_at: float | None = None
        self._counters()
        self._gauges()

    def _counters(self) -> None:
        r = self.registry
        self.queue_wait = Histogram(
            "velro_graphql_generation_queue_wait_seconds",
            "From start to the provider starting it (observed when it ends), by model.",
            ["model"], buckets=_BUCKETS, registry=r,
        )  # fmt: skip
        self.run_time = Histogram(
            "velro_graphql_generation_run_seconds",
            "From the provider starting it to its end, by model.",
            ["model"], buckets=_BUCKETS, registry=r,
        )  # fmt: skip
        self.outcomes = Counter(
            "velro_graphql_generation_outcomes",
            "Generations ended here, by status and error code (none when there is no error).",
            ["status", "code"], registry=r,
        )  # fmt: skip
        self.provider_calls = Counter(
            "velro_graphql_provider_calls",
            "Calls to providers by provider, call and outcome (ok or an error code).",
            ["provider", "call", "outcome"], registry=r,
        )  # fmt: skip
        self.webhooks = Counter(
            "velro_graphql_webhook_verifications",
            "Provider webhooks received, by outcome of their verification.",
            ["outcome"], registry=r,
        )  # fmt: skip
        self.reaper = Counter(
            "velro_graphql_reaper_actions",
            "What the reaper did: generations failed past their deadline (TIMEOUT).",
            ["action"], registry=r,
        )  # fmt: skip
        self.listen_reconnects = Counter(
            "velro_graphql_listen_reconnects",
            "Times the LISTEN connection of live updates was lost and made again.",
            registry=r,
        )

    def _gauges(self) -> None:
        r = self.registry
        self.generations = Gauge(
            "velro_graphql_generations",
            "Unfinished generations in the database, by status (read at scrape time).",
            ["status"], registry=r,
        )  # fmt: skip
        self.oldest = Gauge(
            "velro_graphql_generation_oldest_unfinished_age_seconds",
            "Age of the oldest generation in each unfinished status (0 when there is none).",
            ["status"], registry=r,
        )  # fmt: skip
        self.unstored_outputs = Gauge(
            "velro_graphql_outputs_unstored",
            "Outputs only the provider holds, waiting to be copied to storage.",
            registry=r,
        )
        for status in UNFINISHED:
            self.generations.labels(status.value)
            self.oldest.labels(status.value)

    def generation_ended(self, ended: Generation) -> None:
        """Count a generation that just ended here, and time its wait and its run."""
        self.outcomes.labels(ended.status, ended.error_code or "none").inc()
        if ended.started_at is None:
            return
        self.queue_wait.labels(ended.model_id).observe(_seconds(ended.created_at, ended.started_at))
        if ended.completed_at is not None:
            run = _seconds(ended.started_at, ended.completed_at)
            self.run_time.labels(ended.model_id).observe(run)

    @contextlib.contextmanager
    def provider_call(self, provider: str, call: str) -> Iterator[None]:
        """Count the call the block makes, by its outcome."""
        try:
            yield
        except Exception as error:
            self.provider_calls.labels(provider, call, _error_code(error)).inc()
            raise
        self.provider_calls.labels(provider, call, "ok").inc()

    async def refresh(self, pool: Pool) -> None:
        """Read the backlog gauges from the database, unless they were read very recently."""
        now = time.monotonic()
        if self._refreshed_at is not None and now - self._refreshed_at < self._refresh_seconds:
            return
        self._refreshed_at = now
        async with pool.acquire() as conn:
            unfinished = await job_stats.unfinished(conn)
            self.unstored_outputs.set(await job_stats.unstored_outputs(conn))
        for status in UNFINISHED:
            count, oldest = unfinished.get(status.value, (0, 0.0))
            self.generations.labels(status.value).set(count)
            self.oldest.labels(status.value).set(oldest)


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())


def _error_code(error: Exception) -> str:
    if isinstance(error, SubmitOutcomeUnknown):
        return "SUBMIT_OUTCOME_UNKNOWN"
    if isinstance(error, TransientProviderError):
        return "TRANSIENT"
    if isinstance(error, RejectedByProvider):
        return "REJECTED"
    return "ERROR"


def metrics_allowed(token: str | None, authorization: str | None) -> bool:
    """Open without METRICS_TOKEN; with it, only to its bearer (compared in constant time)."""
    if not token:
        return True
    scheme, _, given = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())
