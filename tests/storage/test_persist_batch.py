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

    def __init__(self, room_id: str = ROOM, prefix: str = "e") -> None:
        self.count = 0
        self.room_id = room_id
        self.prefix = prefix

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
            "type": event_type, "room_id": self.room_id, "sender": sender,
            "content": content if content is not None else {"body": f"m{self.count}"},
            "origin_server_ts": 1000 + self.count,
            "depth": max((e.depth for e in prev), default=0) + 1,
            "prev_events": [e.event_id for e in prev], "auth_events": [e.event_id for e in prev],
        }  # fmt: skip
        if state_key is not None:
            pdu["state_key"] = state_key
        if redacts is not None:
            pdu["redacts"] = redacts
        return Event(pdu, V10, f"${self.prefix}{self.count}")


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


def creation(room: Room, extra: int) -> list[Event]:
    """A room creation's events, as the room creation service builds them, with ``extra`` more
    state events (local invites) after the usual ones; a chain from the create event."""
    specs: list[tuple[str, JsonDict, str, str]] = [
        ("m.room.create", {"room_version": "10", "creator": ALICE}, "", ALICE),
        ("m.room.member", {"membership": "join"}, ALICE, ALICE),
        ("m.room.power_levels", {"users": {ALICE: 100}}, "", ALICE),
        ("m.room.join_rules", {"join_rule": "invite"}, "", ALICE),
        ("m.room.history_visibility", {"history_visibility": "shared"}, "", ALICE),
        ("m.room.name", {"name": "n"}, "", ALICE),
    ]
    specs += [
        ("m.room.member", {"membership": "invite"}, f"@u{i}:persist.test", ALICE)
        for i in range(extra)
    ]
    events: list[Event] = []
    for event_type, content, state_key, sender in specs:
        events.append(room.event(events[-1:], event_type, content, state_key, sender=sender))
    return events


def with_current(entries: list[PersistEntry], changes: dict[int, StateMap]) -> list[PersistEntry]:
    """``entries`` where entry ``i`` moves the room's current state to ``changes[i]`` rather than
    to its state after (an event over federation not citing every forward extremity)."""
    for i, state in changes.items():
        entries[i].new_current_state = state
    return entries


async def room_rows(database: Database, room: Room, events: Sequence[Event]) -> dict[str, Any]:
    """The rows one room's events left, with the room's ID and event ID prefix taken out and
    stream positions and state group IDs made relative, to compare two rooms."""

    def plain(value: Any) -> Any:
        return value.replace(room.room_id, "!r").replace(f"${room.prefix}", "$") if value else value

    first = await database.fetchval(
        "SELECT MIN(stream_ordering) FROM events WHERE room_id = $1", room.room_id
    )
    groups = {
        row["event_id"]: row["state_group"]
        for row in await database.fetch(
            "SELECT event_id, state_group FROM event_state_groups WHERE event_id LIKE $1",
            f"${room.prefix}%",
        )
    }
    group_ids = sorted(set(groups.values()))
    group_rows = {
        row["id"]: row
        for row in await database.fetch(
            "SELECT id, prev_group, chain_length FROM state_groups WHERE room_id = $1",
            room.room_id,
        )
    }
    entries = await database.fetch(
        "SELECT state_group, type, state_key, event_id FROM state_group_entries"
        " WHERE event_id LIKE $1 ORDER BY type, state_key, event_id",
        f"${room.prefix}%",
    )
    state = StateStore(database)
    return {
        "current_state": [
            (r["type"], plain(r["state_key"]), plain(r["event_id"]), r["membership"])
            for r in await database.fetch(
                "SELECT type, state_key, event_id, membership FROM current_state"
                " WHERE room_id = $1 ORDER BY type, state_key",
                room.room_id,
            )
        ],
        "local_memberships": [
            (
                r["user_id"],
                r["membership"],
                plain(r["event_id"]),
                r["stream_ordering"] - first,
                bool(r["outofband"]),
                r["stripped_state"],
                r["via_server"],
                bool(r["forgotten"]),
            )
            for r in await database.fetch(
                "SELECT * FROM local_memberships WHERE room_id = $1 ORDER BY user_id",
                room.room_id,
            )
        ],
        "group_of_event": [group_ids.index(groups[e.event_id]) for e in events],
        "state_of_event": [
            {k: plain(v) for k, v in (await state.get_group_state(groups[e.event_id])).items()}
            for e in events
        ],
        "state_groups": [
            (
                None
                if group_rows[g]["prev_group"] is None
                else group_ids.index(group_rows[g]["prev_group"]),
                group_rows[g]["chain_length"],
            )
            for g in group_ids
        ],
        "group_entries": sorted(
            (
                group_ids.index(r["state_group"]),
                r["type"],
                plain(r["state_key"]),
                plain(r["event_id"]),
            )
            for r in entries
        ),
        "extremities": [
            plain(e)
            for e in await column(
                database,
                "SELECT event_id FROM forward_extremities WHERE room_id = $1",
                room.room_id,
            )
        ],
    }


def creation_changes(events: Sequence[Event]) -> dict[int, StateMap]:
    """Current state moves of a creation batch that write one key twice: the join rules are
    left out of current state by the history visibility event and set again by the name (a
    removal then an upsert of the same key); the invite of ``@u2`` is left out by the last entry
    (an upsert then a removal)."""
    state: StateMap = {}
    after: list[StateMap] = []
    for event in events:
        state[event.state_tuple] = event.event_id
        after.append(dict(state))
    join_rules = events[3].state_tuple
    without_rules = {k: v for k, v in after[4].items() if k != join_rules}
    last_invite = ("m.room.member", "@u2:persist.test")
    without_invite = {k: v for k, v in after[-1].items() if k != last_invite}
    return {4: without_rules, len(events) - 1: without_invite}


@pytest.mark.parametrize("write_twice", [False, True])
async def test_creation_batch_rows_as_one_by_one(
    parts: tuple[CountingDatabase, EventStore, StateStore, EventPersister],
    database: Database,
    write_twice: bool,
) -> None:
    _, _, _, persister = parts
    batched, single = Room("!batched:persist.test", "b"), Room("!single:persist.test", "s")
    batch_events, single_events = creation(batched, 3), creation(single, 3)
    # Bob is invited, then joins, then leaves in the same batch: his final membership remains.
    for room, events in ((batched, batch_events), (single, single_events)):
        for membership in ("invite", "join", "leave"):
            events.append(
                room.event(
                    events[-1:],
                    "m.room.member",
                    {"membership": membership},
                    BOB,
                    sender=ALICE if membership == "invite" else BOB,
                )
            )

    def entries_of(events: list[Event]) -> list[PersistEntry]:
        entries = chained(events, {})
        return with_current(entries, creation_changes(events)) if write_twice else entries

    await persister.persist(entries_of(batch_events))
    for entry in entries_of(single_events):
        # One by one: each entry's group is a delta on the group of the event before it.
        if entry.base_entry is not None:
            entry.base_group = entry.base_entry.state_group
            entry.base_entry = None
        await persister.persist([entry])

    batch_rows = await room_rows(database, batched, batch_events)
    assert batch_rows == await room_rows(database, single, single_events)
    members = {row[0]: row[1] for row in batch_rows["local_memberships"]}
    assert members[BOB] == "leave"
    assert members[ALICE] == "join"
    keys = {(row[0], row[1]) for row in batch_rows["current_state"]}
    assert ("m.room.join_rules", "") in keys
    assert (("m.room.member", "@u2:persist.test") in keys) is not write_twice
    # The cached current state is that of the rows.
    fresh = StateStore(database)
    assert await fresh.get_current_state_ids(
        batched.room_id
    ) == await persister.state.get_current_state_ids(batched.room_id)


async def test_creation_statements_do_not_grow_with_its_state_events(
    parts: tuple[CountingDatabase, EventStore, StateStore, EventPersister],
) -> None:
    counting, _, _, persister = parts
    for extra in (0, 5, 30):
        room = Room(f"!c{extra}:persist.test", f"c{extra}x")
        events = creation(room, extra)
        counting.counts.clear()
        await persister.persist(chained(events, {}))
        # One transaction of events, rooms, edges, auth, state groups, their entries,
        # event_state_groups, the extremities' delete and insert, current state and local
        # memberships: the same statements for 6 or 36 state events.
        assert counting.counts == [11], extra
