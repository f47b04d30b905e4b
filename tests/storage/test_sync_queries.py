"""The /sync reads of ``transom.storage.sync`` and the redaction scan of ``PaginationStore``, on
both engines: answers equal to a fresh read whatever was cached before, caches dropped by events
persisted later at forward or backfilled (negative) positions, and the migration's index.

Rows are written straight into the tables, with a stand-in for the stream allocator's positions
(``current``, ``backfill_current``): the persister's invariant is that every position between the
two is committed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from transom.core.events import Event
from transom.core.room_versions import get_room_version
from transom.services.rooms.redaction import RedactionChecker
from transom.storage import Database
from transom.storage.events import EventStore
from transom.storage.pagination import PaginationStore
from transom.storage.state import StateStore
from transom.storage.sync import LIVE_AFTER, SyncQueries

ROOM_A, ROOM_B = "!a:sync.test", "!b:sync.test"
ALICE = "@alice:sync.test"


@dataclass
class Positions:
    current: int = 0
    backfill_current: int = 0


async def add_event(
    db: Database,
    streams: Positions,
    room_id: str,
    position: int | None = None,
    *,
    outlier: bool = False,
    rejected: str | None = None,
    event_type: str = "m.room.message",
    redacts: str | None = None,
    sender: str = ALICE,
) -> str:
    """Store an event at ``position`` (default: the next forward one) and move ``streams``."""
    if position is None:
        position = streams.current + 1
    event_id = f"$e{position}".replace("-", "n")
    pdu = {
        "type": event_type, "room_id": room_id, "sender": sender, "content": {"body": "x"},
        "origin_server_ts": 1000 + position, "depth": 10 + position, "prev_events": [],
        "auth_events": [],
    }  # fmt: skip
    if redacts is not None:
        pdu["redacts"] = redacts
        pdu["content"] = {"redacts": redacts}
    await db.execute(
        "INSERT INTO events (stream_ordering, event_id, room_id, room_version, type, state_key,"
        " sender, depth, origin_server_ts, json, rejected_reason, outlier)"
        " VALUES ($1, $2, $3, '10', $4, NULL, $5, $6, $7, $8, $9, $10)",
        position, event_id, room_id, event_type, sender, 10 + position, 1000 + position,
        json.dumps(pdu), rejected, outlier,
    )  # fmt: skip
    if redacts is not None:
        await db.execute(
            "INSERT INTO redactions (event_id, redacts) VALUES ($1, $2)", event_id, redacts
        )
    streams.current = max(streams.current, position)
    streams.backfill_current = min(streams.backfill_current, position)
    return event_id


def ids(found: dict[str, list[tuple[int, str]]], room_id: str) -> list[int]:
    return [position for position, _ in found.get(room_id, [])]


async def test_recent_events_cached_and_dropped_by_later_events(database: Database) -> None:
    streams = Positions()
    for _ in range(4):
        await add_event(database, streams, ROOM_A)
        await add_event(database, streams, ROOM_B)
    await add_event(database, streams, ROOM_A, outlier=True)
    await add_event(database, streams, ROOM_A, rejected="auth")
    queries = SyncQueries(database, streams)
    fresh = SyncQueries(database)  # no positions: never caches

    async def both(after: int | None, before: int, limit: int) -> dict[str, list[int]]:
        cached = await queries.recent_event_ids([ROOM_A, ROOM_B], after=after, before=before,
                                                limit=limit)  # fmt: skip
        direct = await fresh.recent_event_ids([ROOM_A, ROOM_B], after=after, before=before,
                                              limit=limit)  # fmt: skip
        assert cached == direct
        return {room: ids(cached, room) for room in (ROOM_A, ROOM_B)}

    # Outliers and rejected events are never timeline events.
    assert await both(None, streams.current, 3) == {ROOM_A: [7, 5, 3], ROOM_B: [8, 6, 4]}
    assert queries.memo(ROOM_A, "recent") is not None
    # Served from the cache: a smaller limit, an older window, a lower bound.
    assert await both(None, streams.current, 2) == {ROOM_A: [7, 5], ROOM_B: [8, 6]}
    assert await both(4, streams.current, 5) == {ROOM_A: [7, 5], ROOM_B: [8, 6]}
    assert await both(None, 6, 1) == {ROOM_A: [5], ROOM_B: [6]}
    # More than was cached: read again.
    assert await both(None, streams.current, 10) == {ROOM_A: [7, 5, 3, 1], ROOM_B: [8, 6, 4, 2]}

    # A new event of room A: its entry goes, room B's stays.
    await add_event(database, streams, ROOM_A)
    assert await both(None, streams.current, 10) == {
        ROOM_A: [11, 7, 5, 3, 1], ROOM_B: [8, 6, 4, 2]
    }  # fmt: skip
    # Backfilled history below every position: only a window without a lower bound has it.
    await add_event(database, streams, ROOM_B, -1)
    await add_event(database, streams, ROOM_B, -2)
    assert await both(None, streams.current, 10) == {
        ROOM_A: [11, 7, 5, 3, 1], ROOM_B: [8, 6, 4, 2, -1, -2]
    }  # fmt: skip
    assert await both(LIVE_AFTER, streams.current, 10) == {
        ROOM_A: [11, 7, 5, 3, 1], ROOM_B: [8, 6, 4, 2]
    }  # fmt: skip
    # An outlier turned into a timeline event moves to a new position (as the persister does).
    await database.execute(
        "UPDATE events SET stream_ordering = $1, outlier = FALSE WHERE stream_ordering = 9", 12
    )
    streams.current = 12
    assert ids(await queries.recent_event_ids([ROOM_A], after=None, before=12, limit=2),
               ROOM_A) == [12, 11]  # fmt: skip


async def test_a_window_not_at_the_newest_position_is_not_cached(database: Database) -> None:
    streams = Positions()
    for _ in range(3):
        await add_event(database, streams, ROOM_A)
    queries = SyncQueries(database, streams)
    found = await queries.recent_event_ids([ROOM_A], after=None, before=2, limit=5)
    assert ids(found, ROOM_A) == [2, 1]
    assert queries.memo(ROOM_A, "recent") is None
    found = await queries.recent_event_ids([ROOM_A], after=None, before=3, limit=5)
    assert ids(found, ROOM_A) == [3, 2, 1]


async def test_memo_dropped_by_the_rooms_next_event(database: Database) -> None:
    streams = Positions()
    await add_event(database, streams, ROOM_A)
    queries = SyncQueries(database, streams)
    epoch = await queries.catch_up()
    queries.remember(ROOM_A, "members", "one", epoch)
    queries.remember(ROOM_B, "members", "two", epoch)
    assert await queries.catch_up() == epoch
    assert queries.memo(ROOM_A, "members") == "one"
    await add_event(database, streams, ROOM_A)
    later = await queries.catch_up()
    assert queries.memo(ROOM_A, "members") is None
    assert queries.memo(ROOM_B, "members") == "two"
    # A value read before entries were dropped is not kept.
    queries.remember(ROOM_A, "members", "stale", epoch)
    assert queries.memo(ROOM_A, "members") is None
    queries.remember(ROOM_A, "members", "new", later)
    assert queries.memo(ROOM_A, "members") == "new"


async def test_txn_ids_by_event(database: Database) -> None:
    streams = Positions()
    first = await add_event(database, streams, ROOM_A)
    second = await add_event(database, streams, ROOM_A)
    third = await add_event(database, streams, ROOM_A)
    for device, txn, event_id in (("D1", "t1", first), ("D2", "t2", second)):
        await database.execute(
            "INSERT INTO event_txn_ids (user_id, device_id, txn_id, event_id)"
            " VALUES ($1, $2, $3, $4)",
            ALICE, device, txn, event_id,
        )  # fmt: skip
    queries = SyncQueries(database, streams)
    for _ in range(2):  # read, then cached
        assert await queries.txn_ids(ALICE, "D1", [first, second, third]) == {first: "t1"}
        assert await queries.txn_ids(ALICE, "D2", [first, second, third]) == {second: "t2"}
        assert await queries.txn_ids("@bob:sync.test", "D1", [first, second, third]) == {}


async def test_migration_indexes_txn_ids_by_event(database: Database) -> None:
    if database.engine == "postgres":
        found = await database.fetchval(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'event_txn_ids_event'"
            " AND schemaname = current_schema()"
        )
    else:
        found = await database.fetchval(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'event_txn_ids_event'"
        )
    assert found is not None and "event_id" in str(found)


async def test_redacted_between(database: Database) -> None:
    streams = Positions()
    target = await add_event(database, streams, ROOM_A)
    other = await add_event(database, streams, ROOM_A)
    await add_event(database, streams, ROOM_A, event_type="m.room.redaction", redacts=target)
    await add_event(database, streams, ROOM_A, -3, event_type="m.room.redaction", redacts=other)
    pages = PaginationStore(database)
    assert await pages.redacted_between(0, streams.current) == [target]
    assert await pages.redacted_between(2, streams.current) == [target]
    assert await pages.redacted_between(3, streams.current) == []
    assert await pages.redacted_between(-4, 0) == [other]


async def test_redaction_checker_sees_redactions_persisted_after_caching(
    database: Database,
) -> None:
    streams = Positions()
    first = await add_event(database, streams, ROOM_A)
    second = await add_event(database, streams, ROOM_A)
    events = EventStore(database)
    checker = RedactionChecker(events, StateStore(database), PaginationStore(database), streams)
    loaded = await events.get_events([first, second])
    targets = [loaded[first], loaded[second]]
    assert await checker.effective_redactions(targets) == {}
    assert await checker.effective_redactions(targets) == {}  # from the cache
    # A live redaction of the first, then a backfilled one (a negative position) of the second.
    live = await add_event(database, streams, ROOM_A, event_type="m.room.redaction", redacts=first)
    found = await checker.effective_redactions(targets)
    assert {k: v.event_id for k, v in found.items()} == {first: live}
    backfilled = await add_event(
        database, streams, ROOM_A, -1, event_type="m.room.redaction", redacts=second
    )
    found = await checker.effective_redactions(targets)
    assert {k: v.event_id for k, v in found.items()} == {first: live, second: backfilled}
    # A redaction from another room never applies.
    elsewhere = Event(
        {"type": "m.room.message", "room_id": ROOM_B, "sender": ALICE, "content": {}},
        get_room_version("10"),
        "$elsewhere",
    )
    await add_event(database, streams, ROOM_B, event_type="m.room.redaction", redacts=first)
    assert await checker.effective_redactions([elsewhere]) == {}
    found = await checker.effective_redactions(targets)
    assert {k: v.event_id for k, v in found.items()} == {first: live, second: backfilled}
