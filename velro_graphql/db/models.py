"""SQL of the models table: the database's mirror of the catalog file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from velro_graphql.db.session import Queryable

_UPSERT = """
INSERT INTO models (id, name, media_type, credits, deprecated, parameters, deadline_seconds)
SELECT * FROM jsonb_to_recordset($1::jsonb) AS m (
    id text, name text, media_type text, credits integer, deprecated boolean,
    parameters jsonb, deadline_seconds integer)
ON CONFLICT (id) DO UPDATE SET
    name = excluded.name, media_type = excluded.media_type, credits = excluded.credits,
    deprecated = excluded.deprecated, parameters = excluded.parameters,
    deadline_seconds = excluded.deadline_seconds
"""


async def mirror(conn: Queryable, models: Sequence[Any]) -> None:
    """Upsert every catalog model; models no longer in the file stay for old generations."""
    rows = [
        {
            "id": m.id,
            "name": m.name,
            "media_type": m.media_type,
            "credits": m.credits,
            "deprecated": m.deprecated,
            "parameters": [asdict(p) for p in m.parameters],
            "deadline_seconds": m.deadline_seconds,
        }
        for m in models
    ]
    await conn.execute(_UPSERT, rows)
