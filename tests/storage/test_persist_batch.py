"""``EventPersister.persist`` with several events in one call, on both engines: one transaction
whose statements do not grow with the number of events, every table row as if the events had
been persisted one by one, forward extremities rewritten once to the last entry's, and the
state groups it wrote remembered (the state group of an event, a group's chain length) exactly
as stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from transom.core.events import Event, JsonDict
from transom.core.room_versions import get_room_version
from transom.storage import Database, IntegrityError
from transom.storage.database import Connection, Row
from transom.storage.events import EventStore
from transom.storage.persist import EventPersister, PersistEntry, StreamAllocator
from transom.storage.push import PushAction
from transom.storage.state import StateMap, StateStore

ROOM = "!room:persist.test"
ALICE, BOB = "@alice:persist.test", "@bob:persist.test"
V10 = get_room_version("10")


class CountingConnection:
    """A transaction's connection that counts the statements sent through it."""

    def __init__(self, conn: Connection, counts: list[int]) -> None:
        self._conn = conn
        self._counts = counts

    async def execute(self, sql: str, *args: Any) -> None:
        self._counts[-1] += 1
        await self._conn.execute(sql, *args)

    async def executemany(self, sql: str, args_seq: Iterable[Sequence[Any]]) -> None:
        self._counts[-1] += 1
        await self._conn.executemany(sql, args_seq)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        self._counts[-1] += 1
        return await self._conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        self._counts[-1] += 1
        return await self._conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        self._counts[-1] += 1
        return await self._conn.fetchval(sql, *args)


class CountingDatabase:
    """Hands out counting connections; ``counts`` has one entry per transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.counts: list[int] = []

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        self.counts.append(0)
        async with self.db.transaction() as conn:
            yield CountingConnection(conn, self.counts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


class Room:
    """Events of one room built by hand (hashes and signatures play no part in storage)."""

    def __init__(self) -> None:
        self.count = 0

    def event(
        self,
        prev: Sequence[Event],
        event_type: str = "m.room.message",
        content: JsonDict | None = None,
        state_key: str | None = None,
        sender: str = ALICE,
        redacts: str | None = None,
    ) -> Event:
        self.count += 1
        pdu: JsonDict = {
            "type": event_type, "room_id": ROOM, "sender": sender,
            "content": content if content is not None else {"body": f"m{self.count}"},
            "origin_server_ts": 1000 + self.count,
            "depth": max((e.depth for e in prev), default=0) + 1,
            "prev_events": [e.event_id for e in prev], "auth_events": [e.event_id for e in prev],
        }  # fmt: skip
        if state_key is not None:
            pdu["state_key"] = state_key
        if redacts is not None:
            pdu["redacts"] = redacts
        return Event(pdu, V10, f"$e{self.count}")


def chained(
    events: Sequence[Event],
    state: StateMap,
    *,
    base_group: int | None = None,
    txns: dict[str, tuple[str, str, str]] | None = None,
    actions: dict[str, list[PushAction]] | None = None,
) -> list[PersistEntry]:
    """Entries for ``events`` in a chain, as the event pipeline builds a batch."""
    entries: list[PersistEntry] = []
    state = dict(state)
    for event in events:
        if event.is_state:
            state[event.state_tuple] = event.event_id
        entries.append(
            PersistEntry(
                event=event,
                state_after=dict(state),
                base_group=base_group if not entries else None,
                base_entry=entries[-1] if entries else None,
                txn=(txns or {}).get(event.event_id),
                new_extremities=[event.event_id],
                push_actions=(actions or {}).get(event.event_id, ()),
            )
        )
    return entries


@pytest.fixture
async def parts(
    database: Database,
) -> tuple[CountingDatabase, EventStore, StateStore, EventPersister]:
    counting = CountingDatabase(database)
    events = EventStore(database)
    state = StateStore(database)
    streams = StreamAllocator(counting)  # type: ignore[arg-type]
    await streams.setup()
    persister = EventPersister(
        database, events, state, streams, lambda user: user.endswith(":persist.test")
    )
    await persister.setup()
    return counting, events, state, persister


async def column(db: Database, sql: str, *args: Any) -> list[Any]:
    return [row[0] for row in await db.fetch(sql, *args)]


async def test_batch_rows_as_one_by_one(
    parts: tuple[CountingDatabase, EventStore, StateStore, EventPersister], database: Database
) -> None:
    _, events, state, persister = parts
    room = Room()
    create = room.event([], "m.room.create", {"room_version": "10", "creator": ALICE}, "")
    join = room.event([create], "m.room.member", {"membership": "join"}, ALICE)
    [stored_create, stored_join] = await persister.persist(chained([create, join], {}))
    assert stored_join.stream_ordering == stored_create.stream_ordering + 1
    base = await state.get_state_group(join.event_id)
    assert base is not None and persister.known_state_group(join.event_id) == base

    first = room.event([join])
    bob = room.event([first], "m.room.member", {"membership": "join"}, BOB, sender=BOB)
    second = room.event([bob], sender=BOB)
    redaction = room.event([second], "m.room.redaction", {}, redacts=first.event_id)
    batch = [first, bob, second, redaction]
    txns = {first.event_id: (ALICE, "D", "t1"), second.event_id: (BOB, "D", "t2")}
    action = PushAction(BOB, ROOM, first.event_id, 0, "main", False)
    current = await state.get_current_state_ids(ROOM)
    stored = await persister.persist(
        chained(batch, current, base_group=base, txns=txns, actions={first.event_id: [action]})
    )
    positions = [s.stream_ordering for s in stored]
    assert positions == list(range(positions[0], positions[0] + 4))
    assert positions[0] == stored_join.stream_ordering + 1

    rows = await database.fetch(
        "SELECT event_id, stream_ordering FROM events WHERE room_id = $1 ORDER BY stream_ordering",
        ROOM,
    )
    assert [r["event_id"] for r in rows] == [e.event_id for e in [create, join, *batch]]
    for event in batch:
        assert await column(
            database, "SELECT prev_event_id FROM event_edges WHERE event_id = $1", event.event_id
        ) == list(event.prev_event_ids)
        assert await column(
            database, "SELECT auth_id FROM event_auth WHERE event_id = $1", event.event_id
        ) == list(event.auth_event_ids)
    assert await column(
        database, "SELECT event_id FROM forward_extremities WHERE room_id = $1", ROOM
    ) == [redaction.event_id]
    assert await events.get_txn_event(ALICE, "D", "t1") == first.event_id
    assert await events.get_txn_event(BOB, "D", "t2") == second.event_id
    assert await column(
        database, "SELECT redacts FROM redactions WHERE event_id = $1", redaction.event_id
    ) == [first.event_id]
    assert await column(
        database, "SELECT stream_ordering FROM event_push_actions WHERE event_id = $1",
        first.event_id,
    ) == [positions[0]]  # fmt: skip

    # State groups: the message keeps the group before it, Bob's join makes one, the events
    # after it share that one; all as remembered.
    groups = await state.get_state_groups([e.event_id for e in batch])
    assert groups[first.event_id] == base
    assert groups[bob.event_id] != base
    assert groups[second.event_id] == groups[redaction.event_id] == groups[bob.event_id]
    for event in batch:
        assert persister.known_state_group(event.event_id) == groups[event.event_id]
    after = await state.get_group_state(groups[redaction.event_id])
    assert after[("m.room.member", BOB)] == bob.event_id
    assert await column(
        database, "SELECT membership FROM local_memberships WHERE user_id = $1", BOB
    ) == ["join"]
    fresh = StateStore(database)
    assert await fresh.get_current_state_ids(ROOM) == after


async def test_statements_per_batch_do_not_grow_with_its_events(
    parts: tuple[CountingDatabase, EventStore, StateStore, EventPersister],
) -> None:
    counting, _, state, persister = parts
    room = Room()
    create = room.event([], "m.room.create", {"room_version": "10", "creator": ALICE}, "")
    join = room.event([create], "m.room.member", {"membership": "join"}, ALICE)
    await persister.persist(chained([create, join], {}))
    last = join
    for size in (1, 10, 40):
        messages: list[Event] = []
        for _ in range(size):
            messages.append(room.event([messages[-1] if messages else last]))
        last = messages[-1]
        txns = {e.event_id: (ALICE, "D", e.event_id) for e in messages}
        base = persister.known_state_group(messages[0].prev_event_ids[0])
        current = await state.get_current_state_ids(ROOM)
        counting.counts.clear()
        await persister.persist(chained(messages, current, base_group=base, txns=txns))
        # One transaction of events, edges, auth, event_state_groups, txn IDs and the
        # extremities' delete and insert: the same statements for 1, 10 or 40 messages.
        assert counting.counts == [7], size


async def test_chain_lengths_remembered_as_stored(
    parts: tuple[CountingDatabase, EventStore, StateStore, EventPersister], database: Database
) -> None:
    counting, events, state, persister = parts
    room = Room()
    create = room.event([], "m.room.create", {"room_version": "10", "creator": ALICE}, "")
    last = room.event([create], "m.room.member", {"membership": "join"}, ALICE)
    await persister.persist(chained([create, last], {}))
    lengths: list[int] = []
    statements: list[int] = []
    for n in range(4):
        # One topic change per persist: each group is a delta on the one before (its chain
        # length read from memory), the fourth persisted by a persister that never saw the
        # earlier ones (read from the table).
        if n == 3:
            persister = EventPersister(
                database, events, state, persister.streams, persister.is_local_user
            )
            await persister.setup()
        topic = room.event([last], "m.room.topic", {"topic": f"t{n}"}, "")
        base = await state.get_state_group(last.event_id)
        current = await state.get_current_state_ids(ROOM)
        [entry] = chained([topic], current, base_group=base)
        counting.counts.clear()
        await persister.persist([entry])
        statements.extend(counting.counts)
        lengths.append(
            await database.fetchval(
                "SELECT chain_length FROM state_groups WHERE id = $1", entry.state_group
            )
        )
        last = topic
    # The create event's group is a snapshot (0), the join's a delta on it (1).
    assert lengths == [2, 3, 4, 5]
    # Only the persister that had not written the base group read its chain length.
    assert statements[0] == statements[1] == statements[2] == statements[3] - 1


async def test_failed_batch_remembers_nothing(
    parts: tuple[CountingDatabase, EventStore, StateStore, EventPersister], database: Database
) -> None:
    _, events, state, persister = parts
    room = Room()
    create = room.event([], "m.room.create", {"room_version": "10", "creator": ALICE}, "")
    join = room.event([create], "m.room.member", {"membership": "join"}, ALICE)
    await persister.persist(chained([create, join], {}, txns={join.event_id: (ALICE, "D", "t")}))
    first = room.event([join])
    topic = room.event([first], "m.room.topic", {"topic": "x"}, "")
    again = room.event([topic])
    base = await state.get_state_group(join.event_id)
    current = await state.get_current_state_ids(ROOM)
    # The last event reuses a stored transaction ID: the whole batch is refused.
    entries = chained(
        [first, topic, again], current, base_group=base, txns={again.event_id: (ALICE, "D", "t")}
    )
    with pytest.raises(IntegrityError):
        await persister.persist(entries)
    for event in (first, topic, again):
        assert persister.known_state_group(event.event_id) is None
        assert await events.get_event(event.event_id) is None
    assert await column(
        database, "SELECT event_id FROM forward_extremities WHERE room_id = $1", ROOM
    ) == [join.event_id]
    assert await state.get_current_state_ids(ROOM) == current
