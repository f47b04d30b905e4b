"""Shared fixtures: every storage-backed test runs on SQLite and on PostgreSQL.

`engine` is parametrized over both engines; `database` yields a migrated, empty Database and
`store` a migrated, empty Store, isolated per test (SQLite: a file in tmp_path; PostgreSQL: a fresh
schema `t_<random>` in database `test` at 127.0.0.1:5432, dropped afterwards). Suites that start
a whole server use `store_config` (or `store_args`) to get `(engine, args)` for `Store.open`.

PostgreSQL unreachable: the test is skipped, unless TRANSOM_TEST_POSTGRES=required (as in CI),
in which case it errors.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from transom.storage import Database, Store, migrate, open_database

PG_HOST = os.environ.get("TRANSOM_TEST_POSTGRES_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TRANSOM_TEST_POSTGRES_PORT", "5432"))
PG_ARGS: dict[str, Any] = {
    "user": os.environ.get("TRANSOM_TEST_POSTGRES_USER", "postgres"),
    "database": os.environ.get("TRANSOM_TEST_POSTGRES_DB", "test"),
    "host": PG_HOST,
    "port": PG_PORT,
    "cp_min": 1,
    "cp_max": 10,
}
_pg_reachable: bool | None = None
_created_schemas: set[str] = set()


def _require_postgres() -> None:
    """Skip (or, with TRANSOM_TEST_POSTGRES=required, fail) if PostgreSQL is unreachable."""
    global _pg_reachable
    if _pg_reachable is None:
        try:
            socket.create_connection((PG_HOST, PG_PORT), timeout=2).close()
            _pg_reachable = True
        except OSError:
            _pg_reachable = False
    if _pg_reachable:
        return
    message = f"PostgreSQL at {PG_HOST}:{PG_PORT} unreachable: PostgreSQL storage tests skipped"
    if os.environ.get("TRANSOM_TEST_POSTGRES", "").lower() == "required":
        pytest.fail(message.replace("skipped", "required (TRANSOM_TEST_POSTGRES=required)"))
    pytest.skip(message)


def store_args(engine: str, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """`(engine, args)` for `Store.open` / `open_database`: an empty, isolated database.

    For PostgreSQL the schema is created on open and dropped at the end of the test session.
    """
    if engine == "sqlite":
        return "sqlite", {"database": str(tmp_path / "transom.db")}
    if engine == "postgres":
        _require_postgres()
        schema = f"t_{secrets.token_hex(6)}"
        _created_schemas.add(schema)
        return "postgres", {**PG_ARGS, "schema": schema}
    raise ValueError(f"unknown engine {engine!r}")


async def _drop_schemas(schemas: set[str]) -> None:
    import asyncpg

    conn = await asyncpg.connect(**{k: v for k, v in PG_ARGS.items() if not k.startswith("cp_")})
    try:
        for schema in sorted(schemas):
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
    _created_schemas.difference_update(schemas)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _created_schemas and _pg_reachable:
        asyncio.run(_drop_schemas(set(_created_schemas)))


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> str:
    """The storage engine under test: "sqlite" or "postgres"."""
    name: str = request.param
    if name == "postgres":
        _require_postgres()
    return name


@pytest.fixture
def postgres_args() -> dict[str, Any]:
    """Connection args of the test PostgreSQL server (skips or fails if it is unreachable)."""
    _require_postgres()
    return dict(PG_ARGS)


@pytest.fixture
async def make_store_config(
    engine: str, tmp_path: Path
) -> AsyncIterator[Callable[[str], tuple[str, dict[str, Any]]]]:
    """A factory of fresh `(engine, args)` pairs, for tests needing several databases (e.g. two
    homeservers): `make_store_config("hs1")`. Cleaned up after the test."""
    made: list[dict[str, Any]] = []

    def make(name: str) -> tuple[str, dict[str, Any]]:
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        kind, args = store_args(engine, folder)
        made.append(args)
        return kind, args

    yield make
    schemas = {a["schema"] for a in made if "schema" in a} & _created_schemas
    if schemas:
        await _drop_schemas(schemas)


@pytest.fixture
async def store_config(engine: str, tmp_path: Path) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """`(engine, args)` for an empty, isolated database, cleaned up after the test."""
    name, args = store_args(engine, tmp_path)
    yield name, args
    if name == "postgres" and args["schema"] in _created_schemas:
        await _drop_schemas({args["schema"]})


async def _close(db: Database, args: dict[str, Any]) -> None:
    """Close `db`, first dropping its PostgreSQL schema over its own pool (saves a connect)."""
    try:
        schema = args.get("schema")
        if db.engine == "postgres" and schema in _created_schemas:
            await db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            _created_schemas.discard(schema)
    finally:
        await db.close()


@pytest.fixture
async def database(store_config: tuple[str, dict[str, Any]]) -> AsyncIterator[Database]:
    """A migrated, empty Database on the engine under test."""
    db = await open_database(*store_config)
    try:
        await migrate(db)
        yield db
    finally:
        await _close(db, store_config[1])


@pytest.fixture
async def store(store_config: tuple[str, dict[str, Any]]) -> AsyncIterator[Store]:
    """A migrated, empty Store on the engine under test."""
    opened = await Store.open(*store_config)
    try:
        yield opened
    finally:
        await _close(opened.db, store_config[1])
