"""Engine-specific behaviour of the storage drivers: SQL rewriting, engine names, connect args."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from transom.storage import normalise_engine, open_database
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
