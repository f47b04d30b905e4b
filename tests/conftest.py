"""Shared fixtures: every storage-backed test runs on SQLite and on PostgreSQL.

`engine` is parametrized over both engines; `database` yields a migrated, empty Database and
`store` a migrated, empty Store, isolated per test (SQLite: a file in tmp_path; PostgreSQL: its
own schema `t_<random>` in database `test` at 127.0.0.1:5432, dropped afterwards). Suites that
start a whole server use `store_config` (one database) or `make_store_config` (several) to get
`(engine, args)` for `Store.open`; `store_args(engine, tmp_path)` is the same as a plain function.

PostgreSQL DDL is slow, so a background thread keeps a few migrated schemas ready and drops used
ones while tests run. PostgreSQL unreachable: the test is skipped, unless
TRANSOM_TEST_POSTGRES=required (as in CI), in which case it errors.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import secrets
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
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
    # Tests need no durability across a server crash; this makes commits and DDL much faster.
    "server_settings": {"synchronous_commit": "off"},
}
_pg_reachable: bool | None = None


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


class _Schemas:
    """Makes and drops PostgreSQL test schemas on a thread with its own event loop."""

    AHEAD = 3

    def __init__(self) -> None:
        self.made: set[str] = set()
        self.drops: list[concurrent.futures.Future[None]] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._call(self._start())

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=120)

    async def _start(self) -> None:
        self.ready: asyncio.Queue[str | BaseException] = asyncio.Queue(maxsize=self.AHEAD)
        self.filler = asyncio.create_task(self._fill())

    def new_name(self) -> str:
        name = f"t_{secrets.token_hex(6)}"
        self.made.add(name)
        return name

    async def _fill(self) -> None:
        try:
            while True:
                schema = self.new_name()
                db = await open_database("postgres", {**PG_ARGS, "schema": schema, "cp_max": 1})
                try:
                    await migrate(db)
                finally:
                    await db.close()
                await self.ready.put(schema)
        except Exception as e:
            while True:
                await self.ready.put(e)

    def take_migrated(self) -> str:
        got = self._call(self.ready.get())
        if isinstance(got, BaseException):
            raise RuntimeError("preparing a PostgreSQL test schema failed") from got
        return str(got)

    async def _drop(self, schemas: set[str]) -> None:
        args = {k: v for k, v in PG_ARGS.items() if not k.startswith("cp_")}
        conn = await asyncpg.connect(**args)
        try:
            for schema in sorted(schemas):
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    def drop_later(self, schema: str) -> None:
        if schema in self.made:
            self.made.discard(schema)
            self.drops.append(asyncio.run_coroutine_threadsafe(self._drop({schema}), self.loop))

    async def _close(self) -> None:
        self.filler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.filler
        await self._drop(set(self.made))  # includes schemas made ready but never used

    def shutdown(self) -> None:
        concurrent.futures.wait(self.drops, timeout=60)
        self._call(self._close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


_schemas: _Schemas | None = None


def _schema_maker() -> _Schemas:
    global _schemas
    _require_postgres()
    if _schemas is None:
        _schemas = _Schemas()
    return _schemas


def store_args(engine: str, tmp_path: Path, *, fresh: bool = False) -> tuple[str, dict[str, Any]]:
    """`(engine, args)` for `Store.open` / `open_database`: an isolated database with no data.

    It may already hold the current schema (tables empty) unless `fresh`, which guarantees no
    tables at all. PostgreSQL schemas are dropped at the end of the session at the latest.
    """
    if engine == "sqlite":
        return "sqlite", {"database": str(tmp_path / "transom.db")}
    if engine == "postgres":
        maker = _schema_maker()
        schema = maker.new_name() if fresh else maker.take_migrated()
        return "postgres", {**PG_ARGS, "schema": schema}
    raise ValueError(f"unknown engine {engine!r}")


def _release(args: dict[str, Any]) -> None:
    if "schema" in args and _schemas is not None:
        _schemas.drop_later(args["schema"])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _schemas is not None:
        _schemas.shutdown()


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
def make_store_config(
    engine: str, tmp_path: Path
) -> Iterator[Callable[..., tuple[str, dict[str, Any]]]]:
    """A factory of `(engine, args)` pairs for tests needing several databases (e.g. two
    homeservers): `make_store_config("hs1")`, or `make_store_config("x", fresh=True)`."""
    made: list[dict[str, Any]] = []

    def make(name: str, *, fresh: bool = False) -> tuple[str, dict[str, Any]]:
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        kind, args = store_args(engine, folder, fresh=fresh)
        made.append(args)
        return kind, args

    yield make
    for args in made:
        _release(args)


@pytest.fixture
def store_config(engine: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """`(engine, args)` for one isolated database with no data, cleaned up after the test."""
    kind, args = store_args(engine, tmp_path)
    yield kind, args
    _release(args)


@pytest.fixture
async def database(store_config: tuple[str, dict[str, Any]]) -> AsyncIterator[Database]:
    """A migrated, empty Database on the engine under test."""
    db = await open_database(*store_config)
    try:
        await migrate(db)
        yield db
    finally:
        await db.close()


@pytest.fixture
async def store(store_config: tuple[str, dict[str, Any]]) -> AsyncIterator[Store]:
    """A migrated, empty Store on the engine under test."""
    opened = await Store.open(*store_config)
    try:
        yield opened
    finally:
        await opened.close()
