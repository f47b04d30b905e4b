"""SQLite driver: statements run inline; waiting for another connection's lock never blocks the
event loop, and gives up with an error after the busy timeout."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from transom.storage.database import Database, open_database


@contextlib.asynccontextmanager
async def two_openers(
    tmp_path: Path, **second_args: Any
) -> AsyncIterator[tuple[Database, Database]]:
    """Two connections to one SQLite file holding an empty table ``t (n BIGINT)``; the second
    opened with ``second_args`` too."""
    path = str(tmp_path / "shared.db")
    first = await open_database("sqlite", {"database": path})
    second = await open_database("sqlite", {"database": path, **second_args})
    try:
        await first.execute("CREATE TABLE t (n BIGINT)")
        yield first, second
    finally:
        await first.close()
        await second.close()


async def hold_write_lock(db: Database) -> tuple[asyncio.Task[None], asyncio.Event]:
    """Start a transaction on ``db`` that inserts ``n = 1`` and keeps the write lock until the
    returned event is set; returns once the lock is held, with the transaction's task."""
    holding = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t (n) VALUES (1)")
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await holding.wait()
    return holder, release


async def test_writer_waits_for_other_opener_without_blocking_loop(tmp_path: Path) -> None:
    async with two_openers(tmp_path) as (first, second):
        holder, release = await hold_write_lock(first)
        waiter = asyncio.create_task(second.execute("INSERT INTO t (n) VALUES (2)"))
        # The loop keeps running while the second opener waits for the lock.
        await asyncio.sleep(0.05)
        assert not waiter.done()
        assert await second.fetchval("SELECT COUNT(*) FROM t") == 0
        release.set()
        await asyncio.wait_for(asyncio.gather(holder, waiter), 10)
        assert await second.fetchval("SELECT COUNT(*) FROM t") == 2


async def test_busy_timeout_gives_up(tmp_path: Path) -> None:
    async with two_openers(tmp_path, busy_timeout=0.1) as (first, second):
        holder, release = await hold_write_lock(first)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await second.execute("INSERT INTO t (n) VALUES (2)")
        release.set()
        await holder
        await second.execute("INSERT INTO t (n) VALUES (3)")
        assert await second.fetchval("SELECT COUNT(*) FROM t") == 2
