"""SQLite engine for the storage contract in `transom.storage.database` (the default engine).

Spec: not covered by the Matrix spec; see `transom.storage.database` for the contract.

Layout: one writer connection, serialised by an asyncio lock, plus a small pool of read-only
reader connections, so reads never wait behind an open write transaction. WAL journal mode lets
readers see the last committed state while a write is under way; `synchronous=NORMAL` is durable
across process crashes in WAL mode; foreign keys are enforced.

Statements run inline on the event loop's thread: a typical statement on a local WAL database
takes microseconds, far less than handing it to a worker thread and back (about 90 us of CPU per
statement with a thread per connection). Waiting for another connection's lock never blocks the
loop: connections have no SQLite busy timeout; a statement answered SQLITE_BUSY is retried after
an asyncio sleep until the configured `busy_timeout` has passed (SQLite undoes a busy statement
entirely, so the retry is safe).

Placeholders: SQL is written with PostgreSQL's `$1, $2` and rewritten (once per distinct
statement, cached) to SQLite's numbered `?1, ?2`, which bind by position and may repeat.
Booleans: columns declared `BOOLEAN` are converted back to Python `bool` when read.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from functools import lru_cache
from typing import Any, TypeVar

from transom.storage.database import Connection, IntegrityError, Row, TransactionGuard


def _convert_bool(value: bytes) -> bool:
    return value not in (b"0", b"")


# Columns declared BOOLEAN come back as bool (needs detect_types=PARSE_DECLTYPES).
sqlite3.register_converter("BOOLEAN", _convert_bool)

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_WRITE_WORDS = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)


@lru_cache(maxsize=2048)
def rewrite_placeholders(sql: str) -> str:
    """Rewrite `$N` placeholders to `?N`, leaving string literals, identifiers and comments."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            end = sql.find(ch, i + 1)
            while end != -1 and end + 1 < n and sql[end + 1] == ch:  # doubled quote escape
                end = sql.find(ch, end + 2)
            end = n if end == -1 else end + 1
            out.append(sql[i:end])
            i = end
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
            out.append(sql[i:end])
            i = end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end == -1 else end + 2
            out.append(sql[i:end])
            i = end
        elif ch == "$" and i + 1 < n and sql[i + 1].isdigit():
            j = i + 1
            while j < n and sql[j].isdigit():
                j += 1
            out.append("?" + sql[i + 1 : j])
            i = j
        else:
            out.append(ch)
            i += 1
    return "".join(out)


@lru_cache(maxsize=2048)
def is_read_only(sql: str) -> bool:
    """True if the statement only reads, so it may run on a reader connection."""
    head = sql.lstrip().lstrip("(").lstrip()[:6].upper()
    if head.startswith("SELECT") or head.startswith("VALUES"):
        return True
    return head.startswith("WITH") and _WRITE_WORDS.search(sql) is None


def split_script(script: str) -> list[str]:
    """Split a script into complete statements (trigger bodies with inner `;` stay whole)."""
    statements: list[str] = []
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            statements.append(buffer)
            buffer = ""
    statements.append(buffer)
    return [s for s in statements if _COMMENTS.sub("", s).strip(" \t\r\n;")]


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except sqlite3.IntegrityError as e:
        raise IntegrityError(str(e)) from e


T = TypeVar("T")

# First and longest pause between retries of a statement answered SQLITE_BUSY (seconds).
_BUSY_FIRST_PAUSE = 0.001
_BUSY_MAX_PAUSE = 0.05


def _is_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(error) or "busy" in str(error)


class _SqliteConnection:
    """Query methods on one sqlite3 connection (the caller holds whatever lock applies)."""

    def __init__(self, conn: sqlite3.Connection, busy_timeout: float) -> None:
        self._conn = conn
        self._busy_timeout = busy_timeout

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on the connection now; while another connection holds the lock it needs,
        sleep and retry until the busy timeout has passed."""
        deadline: float | None = None
        pause = _BUSY_FIRST_PAUSE
        while True:
            try:
                with _translated():
                    return fn(self._conn)
            except sqlite3.OperationalError as e:
                if not _is_busy(e):
                    raise
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self._busy_timeout
                if now >= deadline:
                    raise
                await asyncio.sleep(pause)
                pause = min(pause * 2, _BUSY_MAX_PAUSE)

    async def execute(self, sql: str, *args: Any) -> None:
        query = rewrite_placeholders(sql)
        await self.run(lambda c: c.execute(query, args).close())

    async def executemany(self, sql: str, args_seq: Iterable[Sequence[Any]]) -> None:
        query = rewrite_placeholders(sql)
        params = list(args_seq)
        await self.run(lambda c: c.executemany(query, params).close())

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        query = rewrite_placeholders(sql)
        rows: list[Row] = await self.run(lambda c: c.execute(query, args).fetchall())
        return rows

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else row[0]

    async def executescript(self, sql: str) -> None:
        for statement in split_script(sql):
            await self.execute(statement)

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    def rollback(self) -> None:
        self._conn.execute("ROLLBACK").close()

    def close(self) -> None:
        self._conn.close()


def _connect(path: str, *, read_only: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, isolation_level=None, detect_types=sqlite3.PARSE_DECLTYPES, timeout=0
    )
    conn.row_factory = sqlite3.Row
    return conn


async def _configure(conn: _SqliteConnection, path: str, *, read_only: bool) -> None:
    if path != ":memory:":
        await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA synchronous = NORMAL")
    await conn.execute("PRAGMA foreign_keys = ON")
    if read_only:
        await conn.execute("PRAGMA query_only = ON")


class SqliteDatabase:
    """The SQLite `Database`: one locked writer and a lazily grown pool of readers."""

    engine = "sqlite"

    def __init__(
        self, path: str, writer: _SqliteConnection, max_readers: int, busy_timeout: float
    ) -> None:
        self._path = path
        self._writer_conn = writer
        self._write_lock = asyncio.Lock()
        self._guard = TransactionGuard()
        self._max_readers = max_readers
        self._busy_timeout = busy_timeout
        self._readers: list[_SqliteConnection] = []
        self._idle: asyncio.Queue[_SqliteConnection] = asyncio.Queue()
        self._reader_open_lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def open(cls, args: Mapping[str, Any]) -> SqliteDatabase:
        path = str(args.get("database", ":memory:"))
        busy_timeout = float(args.get("busy_timeout", 30.0))
        # A private in-memory database cannot be shared with reader connections.
        readers = 0 if path == ":memory:" else int(args.get("readers", 4))
        writer = _SqliteConnection(_connect(path, read_only=False), busy_timeout)
        await _configure(writer, path, read_only=False)
        return cls(path, writer, readers, busy_timeout)

    # -- connections -------------------------------------------------------------------------

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[_SqliteConnection]:
        self._guard.check()
        async with self._write_lock:
            yield self._writer_conn

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[_SqliteConnection]:
        self._guard.check()
        if self._max_readers == 0:
            async with self._write_lock:
                yield self._writer_conn
            return
        conn = await self._acquire_reader()
        try:
            yield conn
        finally:
            self._idle.put_nowait(conn)

    async def _acquire_reader(self) -> _SqliteConnection:
        if self._idle.empty() and len(self._readers) < self._max_readers:
            async with self._reader_open_lock:
                if self._idle.empty() and len(self._readers) < self._max_readers:
                    conn = _SqliteConnection(
                        _connect(self._path, read_only=True), self._busy_timeout
                    )
                    await _configure(conn, self._path, read_only=True)
                    self._readers.append(conn)
                    return conn
        return await self._idle.get()

    def _for(self, sql: str) -> Any:
        return self._read() if is_read_only(sql) else self._write()

    # -- the Database contract ---------------------------------------------------------------

    async def execute(self, sql: str, *args: Any) -> None:
        async with self._write() as conn:
            await conn.execute(sql, *args)

    async def executemany(self, sql: str, args_seq: Iterable[Sequence[Any]]) -> None:
        async with self.transaction() as conn:
            await conn.executemany(sql, args_seq)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        async with self._for(sql) as conn:
            rows: list[Row] = await conn.fetch(sql, *args)
            return rows

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        async with self._for(sql) as conn:
            row: Row | None = await conn.fetchrow(sql, *args)
            return row

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self._for(sql) as conn:
            return await conn.fetchval(sql, *args)

    async def executescript(self, sql: str) -> None:
        async with self.transaction() as conn:
            await conn.executescript(sql)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._write() as conn:
            with self._guard.entered():
                await conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    await conn.execute("COMMIT")
                except BaseException:
                    await self._rollback()
                    raise

    async def _rollback(self) -> None:
        # A failed COMMIT may have ended the transaction already: then there is nothing left
        # to roll back, which is not an error.
        if self._writer_conn.in_transaction:
            with contextlib.suppress(sqlite3.OperationalError):
                self._writer_conn.rollback()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        async with self._write_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
            self._writer_conn.close()
