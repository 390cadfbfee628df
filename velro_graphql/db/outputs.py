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


async def stored_files(conn: Queryable, user_id: UUID, generation_id: UUID) -> dict[str, list[str]]:
    """Every stored object of a generation (outputs and thumbnails), by bucket."""
    rows = await conn.fetch(
        "SELECT bucket, path, thumbnails FROM generation_outputs"
        " WHERE user_id = $1 AND generation_id = $2 AND path IS NOT NULL",
        user_id,
        generation_id,
    )
    files: dict[str, list[str]] = {}
    for row in rows:
        files.setdefault(row["bucket"], []).append(row["path"])
        for thumb in row["thumbnails"]:
            files.setdefault(thumb["bucket"], []).append(thumb["path"])
    return files


async def upsert(conn: Queryable, output: Output) -> bool:
    """Write one output (stored or not yet stored), replacing what was there; False when its
    generation no longer exists."""
    status = await conn.execute(
        "INSERT INTO generation_outputs (generation_id, position, user_id, bucket, path,"
        " provider_url, content_type, byte_size, width, height, duration_seconds, sha256,"
        " thumbnails, seed, nsfw, next_copy_at)"
        " SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,"
        " CASE WHEN $5::text IS NULL THEN now() END"
        " WHERE EXISTS (SELECT 1 FROM generations WHERE id = $1)"
        " ON CONFLICT (generation_id, position) DO UPDATE SET bucket = excluded.bucket,"
        " path = excluded.path, provider_url = excluded.provider_url,"
        " content_type = excluded.content_type, byte_size = excluded.byte_size,"
        " width = excluded.width, height = excluded.height,"
        " duration_seconds = excluded.duration_seconds, sha256 = excluded.sha256,"
        " thumbnails = excluded.thumbnails, seed = excluded.seed, nsfw = excluded.nsfw,"
        " next_copy_at = excluded.next_copy_at",
        output.generation_id,
        output.position,
        output.user_id,
        output.bucket,
        output.path,
        output.provider_url,
        output.content_type,
        output.byte_size,
        output.width,
        output.height,
        output.duration_seconds,
        output.sha256,
        output.thumbnails,
        output.seed,
        output.nsfw,
    )
    return status == "INSERT 0 1"


async def claim_copies(conn: Queryable, *, limit: int) -> list[Output]:
    """Take outputs whose copy is due, pushing their next attempt out while this one runs."""
    rows = await conn.fetch(
        f"""
        UPDATE generation_outputs SET next_copy_at = now() + interval '10 minutes'
        WHERE (generation_id, position) IN (
            SELECT generation_id, position FROM generation_outputs
            WHERE path IS NULL AND next_copy_at <= now()
            ORDER BY next_copy_at LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING {COLUMNS}
        """,
        limit,
    )
    return [to_entity(Output, r) for r in rows]


async def postpone_copy(conn: Queryable, generation_id: UUID, position: int) -> None:
    """Schedule the next copy attempt with exponential backoff (10 s doubling, at most 1 h)."""
    await conn.execute(
        "UPDATE generation_outputs SET copy_attempts = copy_attempts + 1,"
        " next_copy_at = now()"
        " + make_interval(secs => least(3600, 10 * 2 ^ least(copy_attempts, 12))"
        " * (0.5 + random() / 2))"
        " WHERE generation_id = $1 AND position = $2",
        generation_id,
        position,
    )


async def abandon_copy(conn: Queryable, generation_id: UUID, position: int) -> None:
    """Stop copying an output that can never be fetched (its provider URL is gone or refused)."""
    await conn.execute(
        "UPDATE generation_outputs SET next_copy_at = NULL, copy_attempts = copy_attempts + 1"
        " WHERE generation_id = $1 AND position = $2",
        generation_id,
        position,
    )
