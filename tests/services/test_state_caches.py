"""The room caches of ``StateStore`` (members, state groups), on both storage engines.

Each cache must answer exactly what the database holds: checked against a fresh, cache-less
``StateStore`` after joins, messages, state changes, leaves, a rolled-back write and a read that
raced with a write; and each must save the queries it is for.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from transom.app import HomeServer
from transom.services.rooms.creation import parse_create_room
from transom.services.rooms.events import EventDraft
from transom.storage.database import Connection, Database, Row
from transom.storage.state import StateStore

SERVER = "caches.test"
ALICE, BOB, CAROL = (f"@{n}:{SERVER}" for n in ("alice", "bob", "carol"))


class Counting:
    """A Database that counts the queries run through it outside transactions, can hold the
    next members query until released, and can fail writes of a given table."""

    def __init__(self, db: Database) -> None:
        self.inner = db
        self.engine = db.engine
        self.queries: list[str] = []
        self.hold_members: asyncio.Event | None = None
        self.members_started = asyncio.Event()
        self.fail_on: str | None = None

    async def execute(self, sql: str, *args: Any) -> None:
        self.queries.append(sql)
        await self.inner.execute(sql, *args)

    async def executemany(self, sql: str, args_seq: Iterable[Sequence[Any]]) -> None:
        self.queries.append(sql)
        await self.inner.executemany(sql, args_seq)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        self.queries.append(sql)
        rows = await self.inner.fetch(sql, *args)
        hold = self.hold_members
        if hold is not None and "membership FROM current_state" in sql:
            self.hold_members = None
            self.members_started.set()
            await hold.wait()
        return rows

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        self.queries.append(sql)
        return await self.inner.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        self.queries.append(sql)
        return await self.inner.fetchval(sql, *args)

    async def executescript(self, sql: str) -> None:
        await self.inner.executescript(sql)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self.inner.transaction() as conn:
            yield _Failing(conn, self.fail_on)

    async def close(self) -> None:
        await self.inner.close()


class _Failing:
    def __init__(self, conn: Connection, fail_on: str | None) -> None:
        self.conn = conn
        self.fail_on = fail_on

    def _check(self, sql: str) -> None:
        if self.fail_on is not None and self.fail_on in sql:
            raise RuntimeError(f"write refused: {self.fail_on}")

    async def execute(self, sql: str, *args: Any) -> None:
        self._check(sql)
        await self.conn.execute(sql, *args)

    async def executemany(self, sql: str, args_seq: Iterable[Sequence[Any]]) -> None:
        self._check(sql)
        await self.conn.executemany(sql, args_seq)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return await self.conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        return await self.conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self.conn.fetchval(sql, *args)

    async def executescript(self, sql: str) -> None:
        await self.conn.executescript(sql)


@pytest.fixture
def counting(hs: HomeServer) -> Counting:
    """Every read of ``hs.rooms.state`` and every persist go through one ``Counting``."""
    wrapped = Counting(hs.rooms.state.db)
    hs.rooms.state.db = wrapped
    hs.rooms.streams.db = wrapped
    return wrapped


async def make_room(hs: HomeServer) -> str:
    request = parse_create_room({"preset": "public_chat"}, "10")
    room_id, _ = await hs.rooms.room_creator.create_room(ALICE, request)
    return room_id


async def send(hs: HomeServer, room_id: str, sender: str, event_type: str, **kw: Any) -> None:
    content = kw.pop("content", {"msgtype": "m.text", "body": "hi"})
    await hs.rooms.creator.send(room_id, EventDraft(sender, event_type, content, **kw))


async def assert_members_exact(hs: HomeServer, room_id: str) -> dict[str, str]:
    fresh = StateStore(hs.rooms.state.db)
    members = await hs.rooms.state.get_members(room_id)
    assert members == await fresh.get_members(room_id)
    return members


def members_queries(counting: Counting) -> int:
    return sum("membership FROM current_state" in q for q in counting.queries)


async def test_members_follow_every_membership_change(hs: HomeServer, counting: Counting) -> None:
    room_id = await make_room(hs)
    assert await assert_members_exact(hs, room_id) == {ALICE: "join"}
    await hs.rooms.join(BOB, room_id)
    assert await assert_members_exact(hs, room_id) == {ALICE: "join", BOB: "join"}
    await hs.rooms.join(CAROL, room_id)
    await hs.rooms.leave(BOB, room_id)
    assert await assert_members_exact(hs, room_id) == {
        ALICE: "join",
        BOB: "leave",
        CAROL: "join",
    }
    # A member event that keeps the membership but changes the event (a profile change).
    await send(
        hs,
        room_id,
        CAROL,
        "m.room.member",
        content={"membership": "join", "displayname": "C"},
        state_key=CAROL,
    )
    assert (await assert_members_exact(hs, room_id))[CAROL] == "join"
    await send(hs, room_id, ALICE, "m.room.member", content={"membership": "ban"}, state_key=CAROL)
    assert (await assert_members_exact(hs, room_id))[CAROL] == "ban"


async def test_messages_and_other_state_keep_cached_members(
    hs: HomeServer, counting: Counting
) -> None:
    room_id = await make_room(hs)
    await hs.rooms.join(BOB, room_id)
    await hs.rooms.state.get_members(room_id)
    counting.queries.clear()
    for _ in range(3):
        await send(hs, room_id, BOB, "m.room.message")
    await send(hs, room_id, ALICE, "m.room.topic", content={"topic": "t"}, state_key="")
    assert await hs.rooms.state.get_members(room_id) == {ALICE: "join", BOB: "join"}
    assert await hs.rooms.state.get_joined_hosts(room_id) == {SERVER}
    assert members_queries(counting) == 0
    await hs.rooms.leave(BOB, room_id)
    assert await hs.rooms.state.get_members(room_id) == {ALICE: "join", BOB: "leave"}
    assert members_queries(counting) == 1


async def test_rolled_back_write_leaves_members_exact(hs: HomeServer, counting: Counting) -> None:
    room_id = await make_room(hs)
    assert await hs.rooms.state.get_members(room_id) == {ALICE: "join"}
    counting.fail_on = "INSERT INTO local_memberships"
    with pytest.raises(RuntimeError, match="write refused"):
        await hs.rooms.join(BOB, room_id)
    counting.fail_on = None
    assert await assert_members_exact(hs, room_id) == {ALICE: "join"}
    assert (await hs.rooms.state.get_current_state_ids(room_id)).get(("m.room.member", BOB)) is None
    await hs.rooms.join(BOB, room_id)
    assert await assert_members_exact(hs, room_id) == {ALICE: "join", BOB: "join"}


async def test_members_read_racing_a_join_is_not_kept(hs: HomeServer, counting: Counting) -> None:
    room_id = await make_room(hs)
    hs.rooms.state.forget_current_state(room_id)  # members not cached: the read below runs
    release = asyncio.Event()
    counting.hold_members = release
    racing = asyncio.ensure_future(hs.rooms.state.get_members(room_id))
    await counting.members_started.wait()
    await hs.rooms.join(BOB, room_id)  # commits while the read above holds its old rows
    release.set()
    assert await racing == {ALICE: "join"}
    assert await assert_members_exact(hs, room_id) == {ALICE: "join", BOB: "join"}


async def test_group_state_reads_at_most_two_queries(hs: HomeServer, counting: Counting) -> None:
    room_id = await make_room(hs)
    for topic in ("a", "b", "c"):
        await send(hs, room_id, ALICE, "m.room.topic", content={"topic": topic}, state_key="")
    current = await hs.rooms.state.get_current_state_ids(room_id)
    fresh = StateStore(counting)
    group = await fresh.get_state_group(current[("m.room.topic", "")])
    assert group is not None
    chain: list[int] = []
    link: int | None = group
    while link is not None:
        chain.append(link)
        link = await counting.inner.fetchval(
            "SELECT prev_group FROM state_groups WHERE id = $1", link
        )
    assert len(chain) >= 4  # deltas on deltas, down to the create event's snapshot
    # Nothing cached: the group itself, then the rest of its chain in one recursive query.
    counting.queries.clear()
    assert await fresh.get_group_state(chain[1]) == await StateStore(
        counting.inner
    ).get_group_state(chain[1])
    assert len(counting.queries) == 2
    # Its prev_group is cached now: one query for the newest group.
    counting.queries.clear()
    assert await fresh.get_group_state(group) == current
    assert len(counting.queries) == 1
    counting.queries.clear()
    before = await fresh.get_group_state(chain[1])
    assert counting.queries == []
    topic_b = await hs.rooms.events.get_event(before[("m.room.topic", "")])
    assert topic_b is not None and topic_b.content == {"topic": "b"}
    assert {k: v for k, v in before.items() if k[0] != "m.room.topic"} == {
        k: v for k, v in current.items() if k[0] != "m.room.topic"
    }
    # Every group of the chain was cached on the way, down to the snapshot.
    for member in chain[2:]:
        assert await fresh.get_group_state(member) == await StateStore(
            counting.inner
        ).get_group_state(member)
    assert len(counting.queries) == 0
    # A cold walk that meets a cached group stops there and stays exact.
    other = StateStore(counting)
    assert await other.get_group_state(chain[-2]) is not None
    counting.queries.clear()
    assert await other.get_group_state(group) == current
    assert len(counting.queries) == 2
    # An unknown group is empty state, as before.
    assert await fresh.get_group_state(-1) == {}


async def test_cached_maps_are_not_handed_out(hs: HomeServer, counting: Counting) -> None:
    """Callers get copies (or single entries) of the cached state and members."""
    room_id = await make_room(hs)
    state = hs.rooms.state
    members = await state.get_members(room_id)
    members[BOB] = "join"
    assert await state.get_members(room_id) == {ALICE: "join"}
    assert await state.get_joined_hosts(room_id) == {SERVER}
    current = await state.get_current_state_ids(room_id)
    current.pop(("m.room.create", ""))
    assert await state.get_current_state_event_id(room_id, "m.room.create") is not None
    await send(hs, room_id, ALICE, "m.room.topic", content={"topic": "new"}, state_key="")
    topic_id = await state.get_current_state_event_id(room_id, "m.room.topic")
    topic = await hs.rooms.events.get_event(topic_id or "")
    assert topic is not None and topic.content == {"topic": "new"}
    state.forget_current_state(room_id)
    assert await state.get_current_state_event_id(room_id, "m.room.topic") == topic_id
