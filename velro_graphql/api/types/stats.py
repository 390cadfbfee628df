"""Usage summaries of a user or a project."""

from __future__ import annotations

import strawberry

from velro_graphql.api.types.enums import GenerationStatus
from velro_graphql.services.stats import Usage


@strawberry.type(description="How many generations are in one status.")
class StatusCount:
    status: GenerationStatus = strawberry.field(description="The status.")
    count: int = strawberry.field(description="Generations in it.")


@strawberry.type(description="Generations and credits of one model.")
class ModelStats:
    model_id: str = strawberry.field(description="The catalog model id.")
    count: int = strawberry.field(description="Generations of this model.")
    credits: int = strawberry.field(description="Credits charged for them, minus refunds.")


@strawberry.type(
    description="A usage summary; the figures add up to what the lists and the ledger show."
)
class Stats:
    generation_count: int = strawberry.field(description="Generations, deleted ones excepted.")
    by_status: list[StatusCount] = strawberry.field(description="Counts by status.")
    credits_spent: int = strawberry.field(
        description="Credits charged minus credits refunded, from the ledger."
    )
    credits_refunded: int = strawberry.field(description="Credits refunded, from the ledger.")
    by_model: list[ModelStats] = strawberry.field(description="Counts and credits by model.")
    stored_bytes: int = strawberry.field(description="Bytes of outputs kept in storage.")

    @classmethod
    def from_usage(cls, usage: Usage) -> Stats:
        return cls(
            generation_count=usage.generation_count,
            by_status=[
                StatusCount(status=GenerationStatus(s), count=n) for s, n in usage.by_status.items()
            ],
            credits_spent=usage.credits_spent,
            credits_refunded=usage.credits_refunded,
            by_model=[
                ModelStats(model_id=m.model_id, count=m.count, credits=m.credits)
                for m in usage.by_model
            ],
            stored_bytes=usage.stored_bytes,
        )
