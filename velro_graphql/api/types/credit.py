"""Credit transactions: the ledger as GraphQL types."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import strawberry

from velro_graphql import entities
from velro_graphql.api.types.enums import CreditTransactionKind
from velro_graphql.api.types.generation import Generation, load_generation
from velro_graphql.api.types.relay import to_global_id

if TYPE_CHECKING:
    from velro_graphql.api.context import Context


@strawberry.type(description="One append-only row of a user's credit ledger.")
class CreditTransaction:
    id: strawberry.ID = strawberry.field(description="Global id.")
    amount: int = strawberry.field(description="Signed: negative for charges.")
    balance_after: int = strawberry.field(description="The balance right after this row.")
    kind: CreditTransactionKind = strawberry.field(description="Why the balance changed.")
    description: str = strawberry.field(description="A note for people.")
    created_at: datetime = strawberry.field(description="When it happened.")
    entity: strawberry.Private[entities.CreditTransaction]

    @classmethod
    def from_entity(cls, row: entities.CreditTransaction) -> CreditTransaction:
        return cls(
            id=to_global_id("CreditTransaction", row.id),
            amount=row.amount,
            balance_after=row.balance_after,
            kind=CreditTransactionKind(row.kind),
            description=row.description,
            created_at=row.created_at,
            entity=row,
        )

    @strawberry.field(description="The generation charged or refunded, if any (null once deleted).")
    async def generation(self, info: strawberry.Info[Context]) -> Generation | None:
        return await load_generation(info.context, self.entity.generation_id)
