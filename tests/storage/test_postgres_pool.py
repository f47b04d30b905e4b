"""The PostgreSQL engine's connection reuse: one round trip per statement, and a connection given
back to the pool carries nothing over (no open transaction, no aborted one)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from transom.storage import IntegrityError, open_database
from transom.storage.postgres import PostgresDatabase


@pytest.fixture
async def pg(postgres_args: dict[str, Any]) -> AsyncIterator[PostgresDatabase]:
    """A one-connection pool in a schema of its own, so every call reuses the same connection."""
    schema = f"t_{secrets.token_hex(6)}"
    db = await open_database(
        "postgres", {**postgres_args, "schema": schema, "cp_min": 1, "cp_max": 1}
    )
    assert isinstance(db, PostgresDatabase)
    try:
        await db.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v BIGINT NOT NULL)")
        yield db
    finally:
        await db.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await db.close()


async def _logged(db: PostgresDatabase) -> list[str]:
    """Every query the pool's only connection sends from now on (asyncpg's query logger)."""
    queries: list[str] = []
    async with db._pool.acquire() as conn:
        conn.add_query_logger(lambda record: queries.append(record.query))
    queries.clear()
    return queries


async def test_statements_outside_a_transaction_send_nothing_else(pg: PostgresDatabase) -> None:
    queries = await _logged(pg)
    await pg.execute("INSERT INTO kv (k, v) VALUES ($1, $2)", "a", 1)
    assert await pg.fetchval("SELECT v FROM kv WHERE k = $1", "a") == 1
    row = await pg.fetchrow("SELECT k, v FROM kv WHERE k = $1", "a")
    assert row is not None and row["v"] == 1
    assert len(await pg.fetch("SELECT k FROM kv")) == 1
    # No reset query (RESET ALL, UNLISTEN *, ...) between the statements.
    assert queries == [
        "INSERT INTO kv (k, v) VALUES ($1, $2)",
        "SELECT v FROM kv WHERE k = $1",
        "SELECT k, v FROM kv WHERE k = $1",
        "SELECT k FROM kv",
    ]


async def test_executemany_is_one_atomic_pipeline(pg: PostgresDatabase) -> None:
    queries = await _logged(pg)
    await pg.executemany("INSERT INTO kv (k, v) VALUES ($1, $2)", [("a", 1), ("b", 2)])
    assert queries == ["INSERT INTO kv (k, v) VALUES ($1, $2)"]  # no BEGIN, no COMMIT
    with pytest.raises(IntegrityError):
        await pg.executemany(
            "INSERT INTO kv (k, v) VALUES ($1, $2)", [("c", 3), ("a", 4), ("d", 5)]
        )
    rows = await pg.fetch("SELECT k, v FROM kv ORDER BY k")
    assert [(r["k"], r["v"]) for r in rows] == [("a", 1), ("b", 2)]
    async with pg._pool.acquire() as raw:
        assert not raw.is_in_transaction()


async def test_failed_transaction_leaves_a_usable_connection(pg: PostgresDatabase) -> None:
    await pg.execute("INSERT INTO kv (k, v) VALUES ($1, $2)", "a", 1)
    with pytest.raises(IntegrityError):
        async with pg.transaction() as conn:
            await conn.execute("INSERT INTO kv (k, v) VALUES ($1, $2)", "b", 2)
            await conn.execute("INSERT INTO kv (k, v) VALUES ($1, $2)", "a", 3)
    # Same (only) connection: not left in the aborted transaction, and "b" was rolled back.
    assert await pg.fetchval("SELECT COUNT(*) FROM kv") == 1
    assert await pg.fetchval("SELECT v FROM kv WHERE k = $1", "a") == 1
    # Statements outside a transaction commit on their own.
    await pg.execute("INSERT INTO kv (k, v) VALUES ($1, $2)", "c", 4)
    async with pg._pool.acquire() as raw:
        assert not raw.is_in_transaction()
    assert await pg.fetchval("SELECT COUNT(*) FROM kv") == 2


async def test_cancelled_transaction_is_rolled_back_before_reuse(pg: PostgresDatabase) -> None:
    entered = asyncio.Event()

    async def abandoned() -> None:
        async with pg.transaction() as conn:
            await conn.execute("INSERT INTO kv (k, v) VALUES ($1, $2)", "lost", 1)
            entered.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(abandoned())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await pg.fetchval("SELECT COUNT(*) FROM kv") == 0
    async with pg.transaction() as conn:
        await conn.execute("INSERT INTO kv (k, v) VALUES ($1, $2)", "kept", 2)
    assert await pg.fetchval("SELECT k FROM kv") == "kept"


async def test_transaction_scoped_settings_do_not_leak(pg: PostgresDatabase) -> None:
    """`SET LOCAL` (allowed by the contract) ends with its transaction on the reused
    connection."""
    before = await pg.fetchval("SELECT current_setting('statement_timeout')")
    async with pg.transaction() as conn:
        await conn.execute("SET LOCAL statement_timeout = 12345")
        assert await conn.fetchval("SELECT current_setting('statement_timeout')") == "12345ms"
    assert await pg.fetchval("SELECT current_setting('statement_timeout')") == before


async def test_many_distinct_statements_stay_prepared(pg: PostgresDatabase) -> None:
    """IN lists of every length are distinct statements; more than asyncpg's default of 100
    stay prepared on the connection, so running one again needs no new Parse round trip."""
    for n in range(1, 151):
        placeholders = ", ".join(f"${i}" for i in range(1, n + 1))
        await pg.fetch(f"SELECT k FROM kv WHERE k IN ({placeholders})", *map(str, range(n)))
    prepared = await pg.fetchval(
        "SELECT COUNT(*) FROM pg_prepared_statements WHERE statement LIKE $1",
        "SELECT k FROM kv WHERE k IN (%",
    )
    assert prepared == 150
