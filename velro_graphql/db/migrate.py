"""The migration runner: numbered SQL files, applied once each, in order, under a lock."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import asyncpg


def _migrations_dir() -> Path:
    # From a checkout (editable install) the files sit beside the package; a plain `pip install .`
    # (Railway's build) leaves them in the working directory the app is started from.
    beside_package = Path(__file__).resolve().parents[2] / "migrations"
    return beside_package if beside_package.is_dir() else Path.cwd() / "migrations"


MIGRATIONS_DIR = _migrations_dir()
# Any constant works; it only has to be the same for every replica.
_LOCK_KEY = 7_310_145_822

# Supabase grants anon and authenticated everything on new public tables: the ledger takes
# that back (and enables RLS with no policy), or anyone with the anon key could rewrite it.
_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS public.schema_migrations (
    filename text PRIMARY KEY,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.schema_migrations ENABLE ROW LEVEL SECURITY;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        REVOKE ALL ON public.schema_migrations FROM anon;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        REVOKE ALL ON public.schema_migrations FROM authenticated;
    END IF;
END
$$;
"""


class MigrationError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Migration:
    filename: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def read_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Read the numbered `.sql` files of `directory` in order; refuse duplicate numbers."""
    files = sorted(directory.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    numbers = [f.name[:4] for f in files]
    duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
    if duplicates:
        raise MigrationError(f"duplicate migration numbers: {', '.join(duplicates)}")
    return [Migration(f.name, f.read_text()) for f in files]


async def migrate(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations; return the names applied. Refuses edited applied files."""
    migrations = read_migrations(directory)
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(_CREATE_LEDGER)
        rows = await conn.fetch("SELECT filename, checksum FROM schema_migrations")
        applied: dict[str, str] = {r["filename"]: r["checksum"] for r in rows}
        _check_unchanged(migrations, applied)
        pending = [m for m in migrations if m.filename not in applied]
        for migration in pending:
            await _apply(conn, migration)
        return [m.filename for m in pending]
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


def _check_unchanged(migrations: list[Migration], applied: dict[str, str]) -> None:
    for migration in migrations:
        recorded = applied.get(migration.filename)
        if recorded is not None and recorded != migration.checksum:
            raise MigrationError(
                f"{migration.filename} was changed after it was applied; "
                "add a new migration instead of editing an applied one"
            )


async def _apply(conn: asyncpg.Connection, migration: Migration) -> None:
    async with conn.transaction():
        await conn.execute(migration.sql)
        await conn.execute(
            "INSERT INTO schema_migrations (filename, checksum) VALUES ($1, $2)",
            migration.filename,
            migration.checksum,
        )
