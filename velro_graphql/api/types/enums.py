"""GraphQL enums; their values are the strings stored in the database."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="Where a generation is in its lifecycle.")
class GenerationStatus(Enum):
    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


@strawberry.enum
class Visibility(Enum):
    PRIVATE = "private"
    PUBLIC = "public"


@strawberry.enum
class MediaType(Enum):
    IMAGE = "image"
    VIDEO = "video"


@strawberry.enum
class CreditTransactionKind(Enum):
    GRANT = "grant"
    PURCHASE = "purchase"
    CHARGE = "charge"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"
