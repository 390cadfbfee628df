"""The migration runner and the Supabase shim, on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from velro_graphql.db.migrate import MIGRATIONS_DIR, MigrationError, migrate, read_migrations


@pytest.fixture
async def empty_db(admin_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    from velro_graphql.db.embedded import with_database

    admin = await asyncpg.connect(admin_dsn)
    await admin.execute('DROP DATABASE IF EXISTS "velro_migrate_test"')
    await admin.execute('CREATE DATABASE "velro_migrate_test"')
    conn = await asyncpg.connect(with_database(admin_dsn, "velro_migrate_test"))
    yield conn
    await conn.close()
    await admin.execute('DROP DATABASE "velro_migrate_test" WITH (FORCE)')
    await admin.close()


async def test_applying_twice_is_a_no_op(empty_db: asyncpg.Connection) -> None:
    first = await migrate(empty_db)
    assert first == [m.filename for m in read_migrations()]
    assert await migrate(empty_db) == []
    recorded = await empty_db.fetchval("SELECT count(*) FROM schema_migrations")
    assert recorded == len(first)


async def test_an_edited_applied_file_is_refused(
    empty_db: asyncpg.Connection, tmp_path: Path
) -> None:
    for source in MIGRATIONS_DIR.glob("*.sql"):
        (tmp_path / source.name).write_text(source.read_text())
    await migrate(empty_db, tmp_path)
    shim = tmp_path / "0001_supabase_compat.sql"
    shim.write_text(shim.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match=r"0001_supabase_compat\.sql was changed"):
        await migrate(empty_db, tmp_path)


async def test_duplicate_numbers_are_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0001_b.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="duplicate"):
        read_migrations(tmp_path)


async def test_shim_is_inert_when_supabase_objects_exist(empty_db: asyncpg.Connection) -> None:
    # What a Supabase project already has, with markers the shim must not overwrite.
    await empty_db.execute(
        """
        CREATE SCHEMA auth;
        CREATE TABLE auth.users (id uuid PRIMARY KEY, email text, created_at timestamptz
            NOT NULL DEFAULT now(), raw_user_meta_data jsonb);
        CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS
            $$ SELECT '11111111-1111-1111-1111-111111111111'::uuid $$;
        CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'supabase' $$;
        CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$ SELECT '{}'::jsonb $$;
        """
    )
    await migrate(empty_db)
    assert (
        str(await empty_db.fetchval("SELECT auth.uid()")) == "11111111-1111-1111-1111-111111111111"
    )
    assert await empty_db.fetchval("SELECT auth.role()") == "supabase"
    columns = await empty_db.fetchval(
        "SELECT count(*) FROM information_schema.columns "
        "WHERE table_schema = 'auth' AND table_name = 'users'"
    )
    assert columns == 4


async def test_shim_functions_read_the_request_claims(empty_db: asyncpg.Connection) -> None:
    await migrate(empty_db)
    async with empty_db.transaction():
        await empty_db.execute(
            "SELECT set_config('request.jwt.claims', "
            '\'{"sub": "22222222-2222-2222-2222-222222222222", "role": "authenticated"}\','
            " true)"
        )
        uid = await empty_db.fetchval("SELECT auth.uid()")
        role = await empty_db.fetchval("SELECT auth.role()")
    assert str(uid) == "22222222-2222-2222-2222-222222222222"
    assert role == "authenticated"


async def test_every_table_has_row_level_security(empty_db: asyncpg.Connection) -> None:
    await migrate(empty_db)
    without = await empty_db.fetch(
        "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind = 'r' AND NOT c.relrowsecurity "
        "AND relname <> 'schema_migrations'"
    )
    assert [r["relname"] for r in without] == []


async def test_migrates_as_a_supabase_like_non_superuser(
    empty_db: asyncpg.Connection, admin_dsn: str, tmp_path: Path
) -> None:
    """Supabase's postgres role may not create in `auth`, and new public tables are granted to
    anon and authenticated by default: the migrations must cope with both."""
    from velro_graphql.db.embedded import with_database

    shim = MIGRATIONS_DIR / "0001_supabase_compat.sql"
    (tmp_path / shim.name).write_text(shim.read_text())
    await migrate(empty_db, tmp_path)  # what Supabase has: roles and auth objects
    await empty_db.execute(
        """
        DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'supa_migrator') THEN
                CREATE ROLE supa_migrator LOGIN;
            END IF;
        END $$;
        GRANT authenticated, anon, service_role TO supa_migrator;
        GRANT USAGE ON SCHEMA auth TO supa_migrator;
        GRANT ALL ON SCHEMA public TO supa_migrator;
        GRANT SELECT, INSERT, REFERENCES ON auth.users TO supa_migrator;
        ALTER DEFAULT PRIVILEGES FOR ROLE supa_migrator IN SCHEMA public
            GRANT ALL ON TABLES TO anon, authenticated;
        """
    )
    db_name = await empty_db.fetchval("SELECT current_database()")
    await empty_db.execute(f'GRANT CREATE ON DATABASE "{db_name}" TO supa_migrator')
    await empty_db.execute("DROP TABLE schema_migrations")
    dsn = with_database(admin_dsn, db_name).replace("postgres:@", "supa_migrator:@", 1)
    conn = await asyncpg.connect(dsn)
    try:
        assert "0002_core.sql" in await migrate(conn)
        for table in ("schema_migrations", "credit_transactions", "profiles"):
            for role in ("anon", "authenticated"):
                writable = await conn.fetchval(
                    "SELECT has_table_privilege($1, $2, 'UPDATE')", role, f"public.{table}"
                )
                assert not writable, (role, table)
    finally:
        await conn.close()
