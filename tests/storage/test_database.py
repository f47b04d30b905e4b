"""Contract tests for the Database protocol, run on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from transom.storage import Database, IntegrityError, migrate, migrations, open_database
from transom.storage.migrations import Migration, load_migrations

_KV = "CREATE TABLE kv (k TEXT PRIMARY KEY, v BIGINT NOT NULL, flag BOOLEAN, note TEXT)"


@pytest.fixture
async def db(database: Database) -> Database:
    await database.execute(_KV)
    return database


async def test_engine_name(db: Database, engine: str) -> None:
    assert db.engine == engine


async def test_placeholders_bind_by_number(db: Database) -> None:
    await db.execute("INSERT INTO kv (k, v) VALUES ($2, $1)", 7, "a")
    assert await db.fetchval("SELECT v FROM kv WHERE k = $1", "a") == 7
    # A placeholder may be reused.
    await db.execute("INSERT INTO kv (k, v, note) VALUES ($1, $2, $1)", "b", 8)
    assert await db.fetchval("SELECT note FROM kv WHERE k = $1", "b") == "b"


async def test_dollar_inside_string_literal_is_not_a_placeholder(db: Database) -> None:
    await db.execute("INSERT INTO kv (k, v, note) VALUES ($1, $2, 'costs $1')", "a", 1)
    assert await db.fetchval("SELECT note FROM kv WHERE k = 'a'") == "costs $1"


async def test_rows_by_name_and_position(db: Database) -> None:
    await db.executemany("INSERT INTO kv (k, v) VALUES ($1, $2)", [("a", 1), ("b", 2), ("c", 3)])
    rows = await db.fetch("SELECT k, v FROM kv ORDER BY k")
    assert [(r["k"], r[1]) for r in rows] == [("a", 1), ("b", 2), ("c", 3)]
    assert dict(rows[0]) == {"k": "a", "v": 1}
    row = await db.fetchrow("SELECT k, v FROM kv WHERE v = $1", 2)
    assert row is not None and row["k"] == "b" and len(row) == 2
    assert await db.fetchrow("SELECT k FROM kv WHERE v = $1", 99) is None
    assert await db.fetchval("SELECT k FROM kv WHERE v = $1", 99) is None
    assert await db.fetch("SELECT k FROM kv WHERE v > $1", 99) == []


async def test_booleans_round_trip_as_bool(db: Database) -> None:
    await db.executemany(
        "INSERT INTO kv (k, v, flag) VALUES ($1, 0, $2)", [("t", True), ("f", False), ("n", None)]
    )
    rows = await db.fetch("SELECT k, flag FROM kv ORDER BY k")
    assert {r["k"]: r["flag"] for r in rows} == {"f": False, "n": None, "t": True}
    assert all(type(r["flag"]) is bool for r in rows if r["flag"] is not None)
    assert await db.fetchval("SELECT k FROM kv WHERE flag = $1", True) == "t"


async def test_big_integers_round_trip(db: Database) -> None:
    ts = 1_700_000_000_000_123
    await db.execute("INSERT INTO kv (k, v) VALUES ($1, $2)", "a", ts)
    assert await db.fetchval("SELECT v FROM kv") == ts


async def test_transaction_commits(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO kv (k, v) VALUES ($1, $2)", "a", 1)
        await conn.execute("UPDATE kv SET v = v + 1 WHERE k = $1", "a")
        assert await conn.fetchval("SELECT v FROM kv WHERE k = 'a'") == 2
    assert await db.fetchval("SELECT v FROM kv WHERE k = 'a'") == 2


async def test_transaction_rolls_back_on_exception(db: Database) -> None:
    await db.execute("INSERT INTO kv (k, v) VALUES ('keep', 1)")
    with pytest.raises(ValueError):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO kv (k, v) VALUES ($1, $2)", "a", 1)
            await conn.execute("DELETE FROM kv WHERE k = 'keep'")
            raise ValueError("boom")
    rows = await db.fetch("SELECT k FROM kv")
    assert [r["k"] for r in rows] == ["keep"]


async def test_transaction_rolls_back_on_integrity_error(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO kv (k, v) VALUES ('a', 1)")
            await conn.execute("INSERT INTO kv (k, v) VALUES ('a', 2)")
    assert await db.fetchval("SELECT COUNT(*) FROM kv") == 0
    # The database is usable afterwards.
    await db.execute("INSERT INTO kv (k, v) VALUES ('a', 3)")
    assert await db.fetchval("SELECT v FROM kv") == 3


async def test_integrity_errors_are_translated(db: Database) -> None:
    await db.execute("INSERT INTO kv (k, v) VALUES ('a', 1)")
    with pytest.raises(IntegrityError):
        await db.execute("INSERT INTO kv (k, v) VALUES ('a', 1)")
    with pytest.raises(IntegrityError):
        await db.execute("INSERT INTO kv (k, v) VALUES ('b', NULL)")


async def test_executemany_is_atomic(db: Database) -> None:
    with pytest.raises(IntegrityError):
        await db.executemany("INSERT INTO kv (k, v) VALUES ($1, $2)", [("a", 1), ("a", 2)])
    assert await db.fetchval("SELECT COUNT(*) FROM kv") == 0


async def test_on_conflict_and_returning(db: Database) -> None:
    sql = "INSERT INTO kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v"
    await db.execute(sql, "a", 1)
    await db.execute(sql, "a", 5)
    assert await db.fetchval("SELECT v FROM kv") == 5
    got = await db.fetchval("UPDATE kv SET v = v * 2 WHERE k = $1 RETURNING v", "a")
    assert got == 10


async def test_using_database_inside_its_own_transaction_is_an_error(db: Database) -> None:
    async with db.transaction():
        with pytest.raises(RuntimeError):
            await db.fetchval("SELECT 1")


async def test_reads_see_committed_state_during_a_write_transaction(db: Database) -> None:
    await db.execute("INSERT INTO kv (k, v) VALUES ('a', 1)")
    inside = asyncio.Event()
    release = asyncio.Event()

    async def writer() -> None:
        async with db.transaction() as conn:
            await conn.execute("UPDATE kv SET v = 2 WHERE k = 'a'")
            inside.set()
            await release.wait()

    task = asyncio.create_task(writer())
    await inside.wait()
    # The read does not wait behind the open write transaction and sees the old value.
    assert await asyncio.wait_for(db.fetchval("SELECT v FROM kv WHERE k = 'a'"), 10) == 1
    release.set()
    await task
    assert await db.fetchval("SELECT v FROM kv WHERE k = 'a'") == 2


async def test_concurrent_writers_and_readers(db: Database) -> None:
    async def write(i: int) -> None:
        if i % 2:
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO kv (k, v) VALUES ($1, $2)", f"k{i}", i)
                await conn.execute("UPDATE kv SET note = $2 WHERE k = $1", f"k{i}", "tx")
        else:
            await db.execute("INSERT INTO kv (k, v) VALUES ($1, $2)", f"k{i}", i)

    async def read(i: int) -> int:
        return int(await db.fetchval("SELECT COUNT(*) FROM kv WHERE v <= $1", i))

    results = await asyncio.gather(*(write(i) for i in range(50)), *(read(i) for i in range(50)))
    assert all(isinstance(r, int) for r in results[50:])
    assert await db.fetchval("SELECT COUNT(*) FROM kv") == 50
    assert await db.fetchval("SELECT COUNT(*) FROM kv WHERE note = 'tx'") == 25


async def test_migrations_are_idempotent(database: Database) -> None:
    # The fixture already migrated: nothing is left to apply.
    assert await migrate(database) == []
    names = [r["name"] for r in await database.fetch("SELECT name FROM schema_version")]
    assert sorted(names) == [m.name for m in load_migrations(database.engine)]
    assert "0001_accounts" in names


async def test_migrate_fresh_database_applies_all_in_order(
    make_store_config: Callable[..., tuple[str, dict[str, Any]]],
) -> None:
    db = await open_database(*make_store_config("fresh", fresh=True))
    try:
        with pytest.raises(Exception, match="users"):
            await db.fetch("SELECT 1 FROM users")
        applied = await migrate(db)
        assert applied == [m.name for m in load_migrations(db.engine)]
        assert applied == sorted(applied)
        assert await migrate(db) == []
        assert await db.fetchval("SELECT COUNT(*) FROM users") == 0
    finally:
        await db.close()


async def test_failed_migration_leaves_nothing_behind(
    make_store_config: Callable[..., tuple[str, dict[str, Any]]],
) -> None:
    # Passed explicitly, not patched into the module: PostgreSQL test schemas are migrated ahead
    # in a background thread (tests/conftest.py), which must never see this migration.
    broken = Migration("9999_broken", "CREATE TABLE half (x BIGINT);\nCREATE TABLE oops (;")
    db = await open_database(*make_store_config("broken", fresh=True))
    try:
        with pytest.raises(Exception, match=r"(?i)syntax"):
            await migrations.migrate(db, [*load_migrations(db.engine), broken])
        names = {r["name"] for r in await db.fetch("SELECT name FROM schema_version")}
        assert "0001_accounts" in names and "9999_broken" not in names
        with pytest.raises(Exception, match=r"(?i)half"):
            await db.fetch("SELECT x FROM half")
    finally:
        await db.close()


async def test_reopen_keeps_data(
    make_store_config: Callable[..., tuple[str, dict[str, Any]]],
) -> None:
    config = make_store_config("reopen")
    db = await open_database(*config)
    await migrate(db)
    await db.execute("CREATE TABLE t (x BIGINT)")
    await db.execute("INSERT INTO t (x) VALUES ($1)", 42)
    await db.close()
    db = await open_database(*config)
    try:
        assert await migrate(db) == []
        assert await db.fetchval("SELECT x FROM t") == 42
    finally:
        await db.close()
