"""Caller sessions take their connections first come, first served."""

from __future__ import annotations

import asyncio
from typing import Any

from velro_graphql.db.session import CallerSession


async def test_a_waiting_session_is_served_before_a_later_one(client: Any) -> None:
    alice = await client.user("alice@example.com")
    pool, turns = client.services.pool, asyncio.Semaphore(1)
    served: list[str] = []

    async def read(name: str) -> None:
        session = CallerSession(pool, alice.claims, turns)
        try:
            await session.fetchval("SELECT 1")
            served.append(name)
        finally:
            await session.close()

    first = CallerSession(pool, alice.claims, turns)
    await first.fetchval("SELECT 1")  # holds the only turn
    waiting = asyncio.create_task(read("waiting"))
    await asyncio.sleep(0.05)  # queued for the turn
    await first.close()
    later = asyncio.create_task(read("later"))  # arrives as the turn is handed on
    await asyncio.gather(waiting, later)
    assert served == ["waiting", "later"]
    assert not turns.locked()  # every turn given back


async def test_a_session_cancelled_while_waiting_gives_no_turn_away(client: Any) -> None:
    alice = await client.user("alice@example.com")
    pool, turns = client.services.pool, asyncio.Semaphore(1)
    first = CallerSession(pool, alice.claims, turns)
    await first.fetchval("SELECT 1")
    cancelled = CallerSession(pool, alice.claims, turns)
    task = asyncio.create_task(cancelled.fetchval("SELECT 1"))
    await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await first.close()
    assert not turns.locked()
    then = CallerSession(pool, alice.claims, turns)
    assert await then.fetchval("SELECT 2") == 2
    await then.close()
