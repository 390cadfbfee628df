"""Progress to 3 decimals: Python's rounding and the compiled read's SQL print every value alike."""

from __future__ import annotations

import random

import asyncpg
import orjson

from velro_graphql.db.read_model import FORMAT_SQL, round_fraction

SQL = FORMAT_SQL["fraction"].format(column="v")


async def test_python_and_sql_round_every_stored_fraction_alike(database_url: str) -> None:
    rng = random.Random(7)
    values = [
        *(k / 1000 for k in range(1001)),
        *(k / 16 for k in range(17)),  # halves exactly representable: 0.0625, 0.1875, ...
        *(k / 2000 for k in range(2001)),
        *(rng.random() for _ in range(2000)),
    ]
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            f"SELECT x, {SQL} AS rounded FROM unnest($1::real[]) AS x, LATERAL (SELECT x AS v) s",
            values,
        )
    finally:
        await conn.close()
    mismatches = [
        (r["x"], r["rounded"])
        for r in rows
        if orjson.dumps(round_fraction(r["x"])).decode() != r["rounded"]
    ]
    assert mismatches == []
    assert round_fraction(0.0625) == 0.063 and round_fraction(None) is None
