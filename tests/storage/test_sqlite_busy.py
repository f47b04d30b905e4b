"""SQLite driver: statements run inline; waiting for another connection's lock never blocks the
event loop, and gives up with an error after the busy timeout."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from transom.storage.database import open_database


async def test_writer_waits_for_other_opener_without_blocking_loop(tmp_path: Path) -> None:
    args = {"database": str(tmp_path / "shared.db")}
    first = await open_database("sqlite", args)
    second = await open_database("sqlite", args)
    try:
        await first.execute("CREATE TABLE t (n BIGINT)")
        holding = asyncio.Event()
        release = asyncio.Event()

        async def hold() -> None:
            async with first.transaction() as conn:
                await conn.execute("INSERT INTO t (n) VALUES (1)")
                holding.set()
                await release.wait()

        holder = asyncio.create_task(hold())
        await holding.wait()
        waiter = asyncio.create_task(second.execute("INSERT INTO t (n) VALUES (2)"))
        # The loop keeps running while the second opener waits for the lock.
        await asyncio.sleep(0.05)
        assert not waiter.done()
        assert await second.fetchval("SELECT COUNT(*) FROM t") == 0
        release.set()
        await asyncio.wait_for(asyncio.gather(holder, waiter), 10)
        assert await second.fetchval("SELECT COUNT(*) FROM t") == 2
    finally:
        await first.close()
        await second.close()


async def test_busy_timeout_gives_up(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    first = await open_database("sqlite", {"database": path})
    second = await open_database("sqlite", {"database": path, "busy_timeout": 0.1})
    try:
        await first.execute("CREATE TABLE t (n BIGINT)")
        release = asyncio.Event()
        holding = asyncio.Event()

        async def hold() -> None:
            async with first.transaction() as conn:
                await conn.execute("INSERT INTO t (n) VALUES (1)")
                holding.set()
                await release.wait()

        holder = asyncio.create_task(hold())
        await holding.wait()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await second.execute("INSERT INTO t (n) VALUES (2)")
        release.set()
        await holder
        await second.execute("INSERT INTO t (n) VALUES (3)")
        assert await second.fetchval("SELECT COUNT(*) FROM t") == 2
    finally:
        await first.close()
        await second.close()
