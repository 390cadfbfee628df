"""The compiled read path's statement builder, as the API plans with it (its SQL stays in db/)."""

from __future__ import annotations

from velro_graphql.db.json_reads import (
    Connection,
    Field,
    Object,
    Part,
    fetch_json_text,
    round_fraction,
)

__all__ = ["Connection", "Field", "Object", "Part", "fetch_json_text", "round_fraction"]
