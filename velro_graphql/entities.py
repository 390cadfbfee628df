"""The domain's records as frozen dataclasses: what db returns and services pass around."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar
from uuid import UUID

T = TypeVar("T")


class GenerationStatus(StrEnum):
    """Where a generation is in its lifecycle; the values are what the database stores."""

    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


UNFINISHED_STATUSES = (GenerationStatus.QUEUED, GenerationStatus.IN_PROGRESS)
TERMINAL_STATUSES = frozenset(GenerationStatus) - set(UNFINISHED_STATUSES)


@dataclass(frozen=True, slots=True)
class Profile:
    id: UUID
    email: str | None
    display_name: str | None
    plan: str
    credits_balance: int
    created_at: datetime
    updated_at: datetime
    avatar_upload_id: UUID | None


@dataclass(frozen=True, slots=True)
class Project:
    id: UUID
    user_id: UUID
    name: str
    description: str
    visibility: str
    tags: list[str]
    generation_count: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Generation:
    id: UUID
    user_id: UUID
    project_id: UUID | None
    model_id: str
    parent_id: UUID | None
    prompt: str
    negative_prompt: str | None
    image_url: str | None
    parameters: dict[str, Any]
    status: str
    cost: int
    provider: str
    provider_request_id: str | None
    queue_position: int | None
    progress: float | None
    logs: list[dict[str, Any]]
    error_code: str | None
    error_message: str | None
    favorite: bool
    idempotency_key: str | None
    deadline_at: datetime
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime
    provider_timings: dict[str, float] | None = None  # fal's `timings`, kept for support
    input_upload_id: UUID | None = None  # the upload it was made from
    version: int = 0  # committed updates so far: later states have larger versions

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES


class UploadStatus(StrEnum):
    PENDING = "PENDING"
    READY = "READY"
    REJECTED = "REJECTED"


@dataclass(frozen=True, slots=True)
class Upload:
    """A picture a user sends straight to storage, checked before anything uses it."""

    id: UUID
    user_id: UUID
    purpose: str
    status: str
    filename: str
    content_type: str
    byte_size: int
    width: int | None
    height: int | None
    bucket: str
    path: str
    upload_expires_at: datetime
    error_message: str | None
    created_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Job:
    """A generation's place in the durable queue the workers share."""

    generation_id: UUID
    attempts: int
    submitted_at: datetime | None


@dataclass(frozen=True, slots=True)
class Output:
    generation_id: UUID
    position: int
    user_id: UUID
    bucket: str | None
    path: str | None
    provider_url: str | None
    content_type: str | None
    byte_size: int | None
    width: int | None
    height: int | None
    duration_seconds: float | None
    sha256: str | None
    thumbnails: list[dict[str, Any]]
    seed: str | None
    stored: bool
    nsfw: bool = False


@dataclass(frozen=True, slots=True)
class CreditTransaction:
    id: int
    user_id: UUID
    amount: int
    balance_after: int
    kind: str
    generation_id: UUID | None
    description: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list in its sort order, with the keyset cursor of each item."""

    items: list[T]
    cursors: list[str]
    total_count: int
    has_next_page: bool
    has_previous_page: bool = False


@dataclass(frozen=True, slots=True)
class Caller:
    """A verified signed-in user: the subject of a Supabase access token."""

    user_id: UUID
    email: str | None
    claims: dict[str, Any]
