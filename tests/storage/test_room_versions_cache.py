"""``RoomStore.get_room_version``: cached once found, one query for concurrent first reads, and
never an "unknown room" or a failure handed to a reader that did not see it itself."""

from __future__ import annotations

import asyncio
from typing import Any

from transom.core.room_versions import KNOWN_ROOM_VERSIONS
from transom.storage import Database
from transom.storage.rooms import RoomStore

ROOM = "!room:versions.test"


class SlowReads:
    """Counts room version reads; each waits for the test to let it go, and may fail."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.reads = 0
        self.go = asyncio.Event()
        self.fail_next = False

    async def fetchval(self, sql: str, *args: Any) -> Any:
        self.reads += 1
        fail, self.fail_next = self.fail_next, False
        await self.go.wait()
        if fail:
            raise ConnectionError("lost the database")
        return await self.db.fetchval(sql, *args)


async def add_room(db: Database) -> None:
    await db.execute(
        "INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES ($1, $2, $3, $4)",
        ROOM,
        "10",
        "@a:versions.test",
        1,
    )


async def many_reads(store: RoomStore, slow: SlowReads, count: int) -> list[Any]:
    tasks = [asyncio.ensure_future(store.get_room_version(ROOM)) for _ in range(count)]
    await asyncio.sleep(0.01)
    slow.go.set()
    return await asyncio.gather(*tasks, return_exceptions=True)


async def test_concurrent_first_reads_share_one_query(database: Database) -> None:
    await add_room(database)
    slow = SlowReads(database)
    store = RoomStore(slow)  # type: ignore[arg-type]
    results = await many_reads(store, slow, 8)
    assert results == [KNOWN_ROOM_VERSIONS["10"]] * 8
    assert slow.reads == 1
    assert await store.get_room_version(ROOM) is KNOWN_ROOM_VERSIONS["10"]
    assert slow.reads == 1


async def test_unknown_room_is_not_shared_or_cached(database: Database) -> None:
    slow = SlowReads(database)
    store = RoomStore(slow)  # type: ignore[arg-type]
    assert await many_reads(store, slow, 4) == [None] * 4
    # Each waiter asked again for itself: the room may have been created meanwhile.
    assert slow.reads == 4
    await add_room(database)
    assert await store.get_room_version(ROOM) is KNOWN_ROOM_VERSIONS["10"]


async def test_failed_first_read_fails_only_its_own_caller(database: Database) -> None:
    await add_room(database)
    slow = SlowReads(database)
    slow.fail_next = True
    store = RoomStore(slow)  # type: ignore[arg-type]
    results = await many_reads(store, slow, 5)
    assert isinstance(results[0], ConnectionError)
    assert results[1:] == [KNOWN_ROOM_VERSIONS["10"]] * 4
    assert slow.reads == 5  # the failed one, then each waiter for itself
