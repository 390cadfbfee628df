"""One JSON log line and Prometheus samples per operation, never with secrets in them."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from strawberry.extensions import SchemaExtension

if TYPE_CHECKING:
    from velro_graphql.api.context import Context

log = logging.getLogger("velro_graphql.operations")


class Metrics:
    """The app's own registry (not the process-global one), so apps in one process never clash."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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


class OperationLog(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context: Context = self.execution_context.context
        elapsed = time.perf_counter() - started
        kind = _operation_type(self.execution_context)
        codes = _codes(self.execution_context.result)
        metrics = context.services.metrics
        metrics.operations.labels(kind, codes[0] if codes else "ok").inc()
        metrics.duration.labels(kind).observe(elapsed)
        log.info(
            "operation",
            extra={
                "request_id": context.request_id,
                "user_id": str(context.user_id) if context.user_id else None,
                "operation": self.execution_context.operation_name or kind,
                "duration_ms": round(elapsed * 1000, 2),
                "error_codes": codes,
            },
        )


def _operation_type(ec: Any) -> str:
    try:
        return str(ec.operation_type.value)
    except (RuntimeError, AttributeError):
        return "unknown"


def _codes(result: Any) -> list[str]:
    errors = getattr(result, "errors", None) or []
    return [str((e.extensions or {}).get("code", "INTERNAL")) for e in errors]
