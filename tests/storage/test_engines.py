"""Engine-specific behaviour of the storage drivers: SQL rewriting, engine names, connect args."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import pytest

from transom.storage import Database, normalise_engine, open_database
from transom.storage.sqlite import is_read_only, rewrite_placeholders, split_script


def test_rewrite_placeholders() -> None:
    assert rewrite_placeholders("SELECT $1, $2, $10, $1") == "SELECT ?1, ?2, ?10, ?1"
    assert rewrite_placeholders("SELECT '$1', \"$2\", $3") == "SELECT '$1', \"$2\", ?3"
    assert rewrite_placeholders("SELECT 'it''s $1', $2") == "SELECT 'it''s $1', ?2"
    assert (
        rewrite_placeholders("SELECT $1 -- $2\n, $3 /* $4 */") == "SELECT ?1 -- $2\n, ?3 /* $4 */"
    )
    assert rewrite_placeholders("SELECT $ a") == "SELECT $ a"


def test_read_only_classification() -> None:
    assert is_read_only("  SELECT 1")
    assert is_read_only("WITH x AS (SELECT 1) SELECT * FROM x")
    assert not is_read_only("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x")
    assert not is_read_only("INSERT INTO t VALUES (1) RETURNING id")
    assert not is_read_only("UPDATE t SET a = 1")


def test_split_script_keeps_trigger_bodies_whole() -> None:
    script = """
    CREATE TABLE a (x INTEGER);
    CREATE TRIGGER tr AFTER INSERT ON a BEGIN UPDATE a SET x = 1; UPDATE a SET x = 2; END;
    -- trailing comment
    """
    statements = split_script(script)
    assert len(statements) == 2
    assert "END;" in statements[1]


def test_engine_names() -> None:
    for name in ("sqlite3", "sqlite", "SQLite3"):
        assert normalise_engine(name) == "sqlite"
    for name in ("psycopg2", "postgres", "postgresql"):
        assert normalise_engine(name) == "postgres"
    with pytest.raises(ValueError):
        normalise_engine("mysql")


async def test_sqlite_memory_database() -> None:
    db = await open_database("sqlite3", {"database": ":memory:"})
    try:
        await db.execute("CREATE TABLE t (x BIGINT)")
        await db.execute("INSERT INTO t (x) VALUES ($1)", 5)
        assert await db.fetchval("SELECT x FROM t") == 5
    finally:
        await db.close()


async def test_sqlite_uses_wal(tmp_path: Path) -> None:
    db = await open_database("sqlite", {"database": str(tmp_path / "a.db")})
    try:
        assert await db.fetchval("PRAGMA journal_mode") == "wal"
        assert await db.fetchval("PRAGMA foreign_keys") == 1
    finally:
        await db.close()


async def test_postgres_dsn_and_schema(postgres_args: dict[str, Any]) -> None:
    schema = f"t_{secrets.token_hex(6)}"
    a = postgres_args
    dsn = f"postgresql://{a['user']}@{a['host']}:{a['port']}/{a['database']}"
    db = await open_database("psycopg2", {"dsn": dsn, "schema": schema, "cp_max": 2})
    try:
        assert db.engine == "postgres"
        assert await db.fetchval("SELECT current_schema()") == schema
    finally:
        await db.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await db.close()


async def test_postgres_rejects_bad_schema_name() -> None:
    with pytest.raises(ValueError):
        await open_database("postgres", {"schema": 'x"; DROP TABLE users; --'})


async def test_sqlite_two_databases_on_one_file_do_not_lock(tmp_path: Path) -> None:
    """Two openers of one file (as two processes would be) wait for each other, never fail."""
    args = {"database": str(tmp_path / "shared.db")}
    first = await open_database("sqlite", args)
    second = await open_database("sqlite", args)
    try:
        await first.execute("CREATE TABLE t (n BIGINT)")

        async def write(db: Database, n: int) -> None:
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO t (n) VALUES ($1)", n)

        await asyncio.gather(*(write(first if n % 2 else second, n) for n in range(40)))
        assert await second.fetchval("SELECT COUNT(*) FROM t") == 40
    finally:
        await first.close()
        await second.close()


async def test_sqlite_cancelled_transaction_rolls_back(tmp_path: Path) -> None:
    db = await open_database("sqlite", {"database": str(tmp_path / "c.db")})
    try:
        await db.execute("CREATE TABLE t (n BIGINT)")
        started = asyncio.Event()

        async def body() -> None:
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO t (n) VALUES (1)")
                started.set()
                await asyncio.Event().wait()

        task = asyncio.create_task(body())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await db.fetchval("SELECT COUNT(*) FROM t") == 0
        await db.execute("INSERT INTO t (n) VALUES (2)")  # the writer is free again
        assert await db.fetchval("SELECT n FROM t") == 2
    finally:
        await db.close()
