"""SQL of the generation_outputs table: reads."""

from __future__ import annotations

from uuid import UUID

from velro_graphql.db.rows import columns, to_entity
from velro_graphql.db.session import Queryable
from velro_graphql.entities import Output

COLUMNS = columns(Output)


async def by_generations(
    conn: Queryable, user_id: UUID, generation_ids: list[UUID]
) -> dict[UUID, list[Output]]:
    """Return the outputs of the user's generations among `generation_ids`, in position order."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM generation_outputs "
        "WHERE user_id = $1 AND generation_id = ANY($2::uuid[]) ORDER BY generation_id, position",
        user_id,
        generation_ids,
    )
    found: dict[UUID, list[Output]] = {g: [] for g in generation_ids}
    for row in rows:
        output = to_entity(Output, row)
        found[output.generation_id].append(output)
    return found
