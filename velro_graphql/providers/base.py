"""What every provider (fal, simulator) offers the worker, and how it fails."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

ProviderState = Literal["QUEUED", "IN_PROGRESS", "COMPLETED", "FAILED"]


@dataclass(frozen=True, slots=True)
class ProviderRequest:
    """One generation as the provider sees it: the endpoint and its full input."""

    generation_id: str
    model_id: str
    media_type: str
    arguments: dict[str, Any]
    webhook_url: str | None = None


@dataclass(frozen=True, slots=True)
class LogLine:
    message: str
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    state: ProviderState
    queue_position: int | None = None
    progress: float | None = None
    logs: tuple[LogLine, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderOutput:
    """One produced file: a (temporary) URL to fetch, or the bytes themselves."""

    url: str | None
    content: bytes | None = None
    content_type: str | None = None
    width: int | None = None
    height: int | None = None
    seed: str | None = None
    nsfw: bool = False  # the provider flagged it as unsafe (fal's has_nsfw_concepts)


@dataclass(frozen=True, slots=True)
class ProviderResult:
    outputs: tuple[ProviderOutput, ...]
    raw: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] | None = None  # the provider's own (fal's `timings`), for support

    @property
    def all_flagged(self) -> bool:
        """Every output was flagged as unsafe: nothing the user may be given."""
        return bool(self.outputs) and all(output.nsfw for output in self.outputs)


class ProviderError(Exception):
    """A provider call failed."""


class TransientProviderError(ProviderError):
    """Worth retrying later: 429, 5xx, timeouts, connection errors, an open circuit."""


class SubmitOutcomeUnknown(TransientProviderError):
    """The submit may have reached the provider: submitting again can start a second job."""


class RejectedByProvider(ProviderError):
    """The provider refused the request itself (4xx validation): retrying cannot help."""


class Provider(Protocol):
    name: str

    async def submit(self, request: ProviderRequest) -> str:
        """Queue the request; return the provider's request id."""
        ...

    async def status(self, request: ProviderRequest, request_id: str) -> ProviderStatus: ...

    async def result(self, request: ProviderRequest, request_id: str) -> ProviderResult: ...

    async def cancel(self, request: ProviderRequest, request_id: str) -> None: ...

    def health(self) -> dict[str, Any]:
        """What readiness shows about this provider (for fal: the circuit breaker's state)."""
        ...

    async def close(self) -> None: ...
