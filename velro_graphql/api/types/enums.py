"""GraphQL enums; their values are the strings stored in the database."""

from __future__ import annotations

from enum import Enum

import strawberry

# The domain's own status enum, exposed as is.
from velro_graphql.entities import GenerationStatus as GenerationStatus

strawberry.enum(GenerationStatus, description="Where a generation is in its lifecycle.")


@strawberry.enum(description="Who may see a project.")
class Visibility(Enum):
    PRIVATE = "private"
    PUBLIC = "public"


@strawberry.enum(description="What a model makes.")
class MediaType(Enum):
    IMAGE = "image"
    VIDEO = "video"


@strawberry.enum(
    description="Why the balance changed: a welcome grant, a purchase, a charge for a"
    " generation, its refund, or a manual adjustment."
)
class CreditTransactionKind(Enum):
    GRANT = "grant"
    PURCHASE = "purchase"
    CHARGE = "charge"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"


@strawberry.enum(description="What a model's price is counted in, as fal bills it.")
class PriceUnit(Enum):
    GENERATION = "GENERATION"
    IMAGE = "IMAGE"
    VIDEO_SECOND = "VIDEO_SECOND"


@strawberry.enum(description="The licence fal serves a model under.")
class Licence(Enum):
    COMMERCIAL = "commercial"
    RESEARCH = "research"
