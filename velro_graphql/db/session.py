"""Units of work: as the caller (RLS applies) or as the service (the server's own writes)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import asyncpg
from asyncpg.pool import PoolConnectionProxy


class Queryable(Protocol):
    """What db functions need: an asyncpg connection or a `CallerSession`."""

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]: ...

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None: ...

    async def fetchval(self, query: str, *args: Any) -> Any: ...

    async def execute(self, query: str, *args: Any) -> str: ...


def _caller_setup(claims: dict[str, Any]) -> str:
    # One round trip: BEGIN, the claims PostgREST would set, and the role. The claims come from a
    # verified token; json.dumps with ensure_ascii leaves only ' to double for a SQL literal.
    literal = json.dumps(claims, ensure_ascii=True, separators=(",", ":")).replace("'", "''")
    return (
        "BEGIN; SELECT set_config('request.jwt.claims', '"
        + literal
        + "', true), set_config('role', 'authenticated', true)"
    )


@asynccontextmanager
async def as_caller(
    pool: asyncpg.Pool, claims: dict[str, Any]
) -> AsyncIterator[PoolConnectionProxy]:
    """Run a transaction as `authenticated` with the caller's claims, as Supabase's REST does."""
    async with pool.acquire() as conn:
        await conn.execute(_caller_setup(claims))
        try:
            yield conn
        except BaseException:
            await _rollback(conn)
            raise
        await conn.execute("COMMIT")


@asynccontextmanager
async def as_service(pool: asyncpg.Pool) -> AsyncIterator[PoolConnectionProxy]:
    """Run a transaction as the server itself (table owner: RLS does not apply)."""
    async with pool.acquire() as conn, conn.transaction():
        yield conn


async def _rollback(conn: PoolConnectionProxy) -> None:
    if conn.is_closed():
        return
    try:
        await conn.execute("ROLLBACK")
    except (asyncpg.PostgresError, OSError):
        conn.terminate()


class CallerSession:
    """One GraphQL operation's reads: a caller transaction opened on first use.

    Resolvers of one operation run concurrently but a connection runs one statement at a time,
    so statements queue on a lock. `close()` commits (or rolls back) and releases the connection.

    With `turns` (a semaphore sized like the pool), sessions get their connections first come,
    first served: asyncpg's pool lets a newcomer take a released connection ahead of the waiter
    it woke, which under load starves a few requests for hundreds of milliseconds.
    """

    def __init__(
        self, pool: asyncpg.Pool, claims: dict[str, Any], turns: asyncio.Semaphore | None = None
    ) -> None:
        self._pool = pool
        self._claims = claims
        self._turns = turns
        self._conn: PoolConnectionProxy | None = None
        self._lock = asyncio.Lock()

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async with self._lock:
            conn = await self._connection()
            return await conn.fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        async with self._lock:
            conn = await self._connection()
            return await conn.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self._lock:
            conn = await self._connection()
            return await conn.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        async with self._lock:
            conn = await self._connection()
            return await conn.execute(query, *args)

    async def _connection(self) -> PoolConnectionProxy:
        if self._conn is not None:
            return self._conn
        if self._turns is not None:
            await self._turns.acquire()
        try:
            conn = await self._pool.acquire()
        except BaseException:
            self._release_turn()
            raise
        try:
            await conn.execute(_caller_setup(self._claims))
        except BaseException:
            try:
                await self._pool.release(conn)
            finally:
                self._release_turn()
            raise
        self._conn = conn
        return conn

    def _release_turn(self) -> None:
        if self._turns is not None:
            self._turns.release()

    async def close(self, *, commit: bool = True) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if commit:
                await conn.execute("COMMIT")
            else:
                await _rollback(conn)
        except BaseException:
            await _rollback(conn)
            raise
        finally:
            try:
                await self._pool.release(conn)
            finally:
                self._release_turn()
