"""One JSON log line and Prometheus samples per operation, never with secrets in them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from graphql import GraphQLError
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from velro_graphql.api.context import Context

log = logging.getLogger("velro_graphql.operations")


class Metrics:
    """The API's metrics, in the registry of its runtime's job metrics (never the
    process-global one, so apps in one process never clash)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.operations = Counter(
            "velro_graphql_operations_total",
            "GraphQL operations by type and outcome.",
            ["type", "outcome"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "velro_graphql_operation_seconds",
            "Time to run a GraphQL operation.",
            ["type"],
            registry=self.registry,
        )
        self.subscribers = Gauge(
            "velro_graphql_live_subscribers",
            "Subscriptions listening for changes in this process.",
            registry=self.registry,
        )
        self.compiled_fallbacks = Counter(
            "velro_graphql_compiled_fallbacks_total",
            "Queries the compiled read path left to per-field execution, by reason.",
            ["reason"],
            registry=self.registry,
        )


def record_operation(
    context: Context, kind: str, name: str | None, codes: list[str], seconds: float
) -> None:
    """Count an operation by type and outcome, time it, and log its one line."""
    metrics = context.services.metrics
    metrics.operations.labels(kind, codes[0] if codes else "ok").inc()
    metrics.duration.labels(kind).observe(seconds)
    log.info(
        "operation",
        extra={
            "request_id": context.request_id,
            "user_id": str(context.user_id) if context.user_id else None,
            "operation": name or kind,
            "duration_ms": round(seconds * 1000, 2),
            "error_codes": codes,
        },
    )


def error_codes(errors: Sequence[GraphQLError] | None) -> list[str]:
    """The codes of errors already coded (api/errors.py)."""
    return [str((e.extensions or {}).get("code", "INTERNAL")) for e in errors or ()]
