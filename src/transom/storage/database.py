"""The storage contract: one `Database` protocol, two engines (SQLite and PostgreSQL).

Spec: the Matrix spec does not cover storage; this module is the project's own contract
(architecture guide, habit 6: "one storage contract, two engines").

Rules every caller can rely on, on both engines:

* SQL is written once, in PostgreSQL's dialect with `$1, $2, ...` placeholders. The SQLite driver
  rewrites them to SQLite's numbered `?1, ?2, ...` form, so a placeholder may be reused or appear
  out of order. Stick to SQL both engines accept: `ON CONFLICT ... DO NOTHING/UPDATE`,
  `RETURNING`, `BIGINT` for integers and millisecond timestamps, `TEXT` for JSON (json text,
  never JSONB).
* Rows support `row["column"]` and `row[0]`, `len(row)`, `row.keys()` and `dict(row)`.
* Booleans: declare boolean columns `BOOLEAN` and bind Python `bool`s. A column read directly
  (`SELECT admin FROM users`) comes back as a Python `bool` on both engines. A computed expression
  (`SELECT COUNT(*) > 0`, `SELECT EXISTS (...)`) is a `bool` on PostgreSQL but an `int` on SQLite:
  wrap such values in `bool(...)`.
* `transaction()` yields a `Connection`; everything done through it commits atomically, or rolls
  back if the block raises. Inside the block use only that connection: calling the `Database`
  itself from inside its own transaction raises `RuntimeError` (on SQLite it would deadlock
  behind the single writer).
* Constraint violations (unique, foreign key, not null, check) raise `IntegrityError` on both
  engines. On PostgreSQL the surrounding transaction is then aborted and must be left.
* Pooled connections are handed on as they are (a transaction left open is rolled back, nothing
  more): never change session state, i.e. no `SET` outside a transaction (`SET LOCAL` is fine),
  `LISTEN`, or session-level advisory locks (`pg_advisory_xact_lock` is fine).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import Any, Protocol

__all__ = [
    "Connection",
    "Database",
    "IntegrityError",
    "Row",
    "normalise_engine",
    "open_database",
]


class IntegrityError(Exception):
    """A constraint (unique, foreign key, not null, check) was violated."""


class Row(Protocol):
    """A result row: indexable by column name or position (sqlite3.Row, asyncpg.Record)."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def __len__(self) -> int: ...

    def keys(self) -> Iterable[str]: ...


class Connection(Protocol):
    """The query methods, shared by a `Database` and by the connection of a transaction."""

    async def execute(self, sql: str, *args: Any) -> None: ...

    async def executemany(self, sql: str, args_seq: Iterable[Sequence[Any]]) -> None: ...

    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...

    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...

    async def fetchval(self, sql: str, *args: Any) -> Any: ...

    async def executescript(self, sql: str) -> None:
        """Run several `;`-separated statements without parameters (used by migrations)."""
        ...


class Database(Connection, Protocol):
    """A connection pool on one engine. `engine` is "sqlite" or "postgres"."""

    engine: str

    def transaction(self) -> AbstractAsyncContextManager[Connection]: ...

    async def close(self) -> None: ...


_SQLITE_NAMES = frozenset({"sqlite", "sqlite3"})
_POSTGRES_NAMES = frozenset({"postgres", "postgresql", "psycopg2", "psycopg", "asyncpg"})


def normalise_engine(engine: str) -> str:
    """Map Synapse-style engine names ("sqlite3", "psycopg2", ...) to "sqlite" or "postgres"."""
    name = engine.strip().lower()
    if name in _SQLITE_NAMES:
        return "sqlite"
    if name in _POSTGRES_NAMES:
        return "postgres"
    raise ValueError(f"unknown database engine {engine!r} (use 'sqlite3' or 'psycopg2')")


async def open_database(engine: str, args: Mapping[str, Any]) -> Database:
    """Open a database on `engine` ("sqlite3"/"sqlite" or "psycopg2"/"postgres"/"postgresql").

    SQLite args: `database` (a path, or ":memory:"), optional `readers` (reader pool size) and
    `busy_timeout` (seconds). PostgreSQL args: as in Synapse's config (`user`, `password`,
    `database`, `host`, `port`, `cp_min`, `cp_max`) or a `dsn`, plus an optional `schema` that
    is created if missing and used as the search_path.
    """
    kind = normalise_engine(engine)
    if kind == "sqlite":
        from transom.storage.sqlite import SqliteDatabase

        return await SqliteDatabase.open(args)
    from transom.storage.postgres import PostgresDatabase

    return await PostgresDatabase.open(args)


class TransactionGuard:
    """Detects calls on a Database from inside one of its own transactions (same task)."""

    def __init__(self) -> None:
        self._active: contextvars.ContextVar[bool] = contextvars.ContextVar(
            f"transom_txn_{id(self)}", default=False
        )

    def check(self) -> None:
        if self._active.get():
            raise RuntimeError(
                "database used from inside its own transaction: use the transaction's connection"
            )

    @contextmanager
    def entered(self) -> Iterator[None]:
        self.check()
        token = self._active.set(True)
        try:
            yield
        finally:
            self._active.reset(token)
