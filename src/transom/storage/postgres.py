"""PostgreSQL engine for the storage contract in `transom.storage.database` (asyncpg pool).

Spec: not covered by the Matrix spec; see `transom.storage.database` for the contract.

Connection args follow Synapse's `database.args` (`user`, `password`, `database`, `host`, `port`,
`cp_min`, `cp_max`); a `dsn` may be given instead of, or as well as, the separate fields. An
optional `schema` (a plain lowercase identifier) is created if missing and becomes the
search_path of every connection, which is how tests get an isolated, empty database. Optional
`server_settings` (a mapping) sets PostgreSQL run-time parameters on every connection.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import asyncpg

from transom.storage.database import Connection, IntegrityError, Row, TransactionGuard

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_STATEMENT_CACHE_SIZE = 1000


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as e:
        raise IntegrityError(str(e)) from e


class _PostgresConnection:
    """Query methods on one asyncpg connection (plain try/except: these are on every path)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> None:
        try:
            await self._conn.execute(sql, *args)
        except asyncpg.IntegrityConstraintViolationError as e:
            raise IntegrityError(str(e)) from e

    async def executemany(self, sql: str, args_seq: Iterable[Sequence[Any]]) -> None:
        try:
            await self._conn.executemany(sql, args_seq)
        except asyncpg.IntegrityConstraintViolationError as e:
            raise IntegrityError(str(e)) from e

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        try:
            rows: list[Row] = await self._conn.fetch(sql, *args)
        except asyncpg.IntegrityConstraintViolationError as e:
            raise IntegrityError(str(e)) from e
        return rows

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        try:
            row: Row | None = await self._conn.fetchrow(sql, *args)
        except asyncpg.IntegrityConstraintViolationError as e:
            raise IntegrityError(str(e)) from e
        return row

    async def fetchval(self, sql: str, *args: Any) -> Any:
        try:
            return await self._conn.fetchval(sql, *args)
        except asyncpg.IntegrityConstraintViolationError as e:
            raise IntegrityError(str(e)) from e

    async def executescript(self, sql: str) -> None:
        # Without arguments asyncpg uses the simple query protocol: several statements at once.
        try:
            await self._conn.execute(sql)
        except asyncpg.IntegrityConstraintViolationError as e:
            raise IntegrityError(str(e)) from e


async def _keep_session(conn: Any) -> None:
    """The pool's reset on release: nothing beyond what asyncpg always does first (roll back a
    transaction left open, drop listeners). asyncpg's default reset runs
    ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` on every release: one
    more round trip per statement run outside a transaction. The storage layer never changes
    session state (no SET, LISTEN, cursors or session advisory locks; transaction-scoped ones
    such as ``pg_advisory_xact_lock`` end with their transaction), so there is nothing to undo.
    """


def _pool_kwargs(args: Mapping[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "min_size": int(args.get("cp_min", 1)),
        "max_size": int(args.get("cp_max", 10)),
        "reset": _keep_session,
        # Prepared statements kept per connection (asyncpg's default is 100): a statement not
        # in the cache costs an extra round trip to prepare, and IN lists of every length
        # between them are more than 100 distinct texts.
        "statement_cache_size": _STATEMENT_CACHE_SIZE,
    }
    if args.get("dsn"):
        kwargs["dsn"] = str(args["dsn"])
    for key in ("user", "password", "database", "host"):
        if args.get(key) is not None:
            kwargs[key] = str(args[key])
    if args.get("port") is not None:
        kwargs["port"] = int(args["port"])
    settings = {str(k): str(v) for k, v in dict(args.get("server_settings") or {}).items()}
    schema = args.get("schema")
    if schema is not None:
        if not _SCHEMA_NAME.match(str(schema)):
            raise ValueError(f"invalid PostgreSQL schema name {schema!r}")
        settings["search_path"] = str(schema)
    if settings:
        kwargs["server_settings"] = settings
    return kwargs


class PostgresDatabase:
    """The PostgreSQL `Database`: an asyncpg pool."""

    engine = "postgres"

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._guard = TransactionGuard()

    @classmethod
    async def open(cls, args: Mapping[str, Any]) -> PostgresDatabase:
        pool = await asyncpg.create_pool(**_pool_kwargs(args))
        schema = args.get("schema")
        if schema is not None:
            # The name was validated against _SCHEMA_NAME, so quoting it is safe.
            await pool.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        return cls(pool)

    # Each statement outside a transaction borrows a pool connection for itself alone.

    async def execute(self, sql: str, *args: Any) -> None:
        self._guard.check()
        async with self._pool.acquire() as conn:
            await _PostgresConnection(conn).execute(sql, *args)

    async def executemany(self, sql: str, args_seq: Iterable[Sequence[Any]]) -> None:
        # Atomic without BEGIN/COMMIT round trips: asyncpg (0.22+) sends every row's Bind and
        # Execute before one Sync, which PostgreSQL runs as one implicit transaction.
        self._guard.check()
        async with self._pool.acquire() as conn:
            await _PostgresConnection(conn).executemany(sql, args_seq)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        self._guard.check()
        async with self._pool.acquire() as conn:
            return await _PostgresConnection(conn).fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        self._guard.check()
        async with self._pool.acquire() as conn:
            return await _PostgresConnection(conn).fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        self._guard.check()
        async with self._pool.acquire() as conn:
            return await _PostgresConnection(conn).fetchval(sql, *args)

    async def executescript(self, sql: str) -> None:
        async with self.transaction() as conn:
            await conn.executescript(sql)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        self._guard.check()
        async with self._pool.acquire() as raw:
            with self._guard.entered(), _translated():
                async with raw.transaction():
                    yield _PostgresConnection(raw)

    async def close(self) -> None:
        await self._pool.close()
