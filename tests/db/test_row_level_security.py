"""The second wall: reads as the caller see only the caller's rows, whatever the SQL says."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.factories import make_generation, make_project
from velro_graphql.db.session import CallerSession, as_caller


async def test_unfiltered_reads_return_only_the_callers_rows(client: Any) -> None:
    alice = await client.user("alice@example.com")
    bob = await client.user("bob@example.com")
    pool = client.services.pool
    async with pool.acquire() as conn:
        for owner in (alice, bob, bob):
            project = await make_project(conn, owner.user_id)
            await make_generation(conn, owner.user_id, project_id=project)

    session = CallerSession(pool, alice.claims)
    try:
        for table in ("projects", "generations", "profiles", "credit_transactions"):
            owners = {r[0] for r in await session.fetch(f"SELECT {_owner(table)} FROM {table}")}
            assert owners == {alice.user_id}, table
    finally:
        await session.close()


def _owner(table: str) -> str:
    return "id" if table == "profiles" else "user_id"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE profiles SET credits_balance = 1000000",
        "INSERT INTO credit_transactions (user_id, amount, balance_after, kind) "
        "VALUES (auth.uid(), 500, 1500, 'grant')",
        "UPDATE generations SET status = 'COMPLETED', cost = 0",
        "UPDATE projects SET generation_count = 99",
        "DELETE FROM credit_transactions",
    ],
)
async def test_callers_cannot_write_balances_ledger_statuses_or_costs(
    client: Any, statement: str
) -> None:
    alice = await client.user("alice@example.com")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with as_caller(client.services.pool, alice.claims) as conn:
            await conn.execute(statement)
    async with client.services.pool.acquire() as conn:
        balance = await conn.fetchval(
            "SELECT credits_balance FROM profiles WHERE id = $1", alice.user_id
        )
        ledger = await conn.fetchval("SELECT sum(amount) FROM credit_transactions")
    assert balance == ledger == 1000


async def test_a_caller_cannot_create_a_project_for_someone_else(client: Any) -> None:
    alice = await client.user("alice@example.com")
    bob = await client.user("bob@example.com")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with as_caller(client.services.pool, alice.claims) as conn:
            await conn.execute(
                "INSERT INTO projects (user_id, name) VALUES ($1, 'sneaky')", bob.user_id
            )


SEARCH = "SELECT id FROM velro.generations_matching($1, 'harbour')"


async def test_the_prompt_search_function_keeps_the_owner_wall(client: Any) -> None:
    alice = await client.user("alice@example.com")
    bob = await client.user("bob@example.com")
    pool = client.services.pool
    async with pool.acquire() as conn:
        bobs = await make_generation(conn, bob.user_id, prompt="secret harbour")
        # The service's own connection sets no caller: the owner it passes applies.
        found = await conn.fetch(SEARCH, bob.user_id)
        assert [r[0] for r in found] == [bobs]
    session = CallerSession(pool, alice.claims)
    try:
        assert await session.fetch(SEARCH, bob.user_id) == []  # not the caller: nothing
    finally:
        await session.close()
