"""Group commit of events sent into one room (``EventCreator.send``), on both storage engines.

Sends queued on a room while its lock is held are built one after another under one lock and
persisted in one transaction: each caller gets its own event, the room's DAG stays a chain, a
refused draft fails only its sender, a failed persist fails every sender of the batch and stores
nothing, and a transaction ID names one event even when repeated inside a batch.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Sequence
from typing import Any

import pytest

from transom.app import HomeServer
from transom.core.events import Event
from transom.services.errors import BadJson, Forbidden
from transom.services.rooms.creation import parse_create_room
from transom.services.rooms.events import MAX_BATCH, EventDraft
from transom.storage.persist import PersistEntry

SERVER = "batch.test"
ALICE, BOB, CAROL, MALLORY = (f"@{n}:{SERVER}" for n in ("alice", "bob", "carol", "mallory"))


async def make_room(hs: HomeServer, *members: str) -> str:
    request = parse_create_room({"preset": "public_chat"}, "10")
    room_id, _ = await hs.rooms.room_creator.create_room(ALICE, request)
    for user in members:
        await hs.rooms.join(user, room_id)
    return room_id


def message(sender: str, body: str) -> EventDraft:
    return EventDraft(sender, "m.room.message", {"msgtype": "m.text", "body": body})


class Batches:
    """Records what the creator's listeners are told, one list per notification."""

    def __init__(self, hs: HomeServer) -> None:
        self.seen: list[list[str]] = []
        hs.rooms.creator.listeners.append(self)

    async def __call__(self, events: Sequence[Event]) -> None:
        self.seen.append([e.event_id for e in events])


async def queued_together(
    hs: HomeServer, room_id: str, sends: list[Awaitable[Event]], *, joining: int = 0
) -> list[Any]:
    """Start ``sends`` one by one while the room's lock is held, each queued before the next
    starts, then let them go as one batch; each send's event or exception, in order. The last
    ``joining`` sends repeat an earlier transaction ID, so they join it instead of queueing."""
    tasks: list[asyncio.Future[Event]] = []
    async with hs.rooms.locks.lock(room_id):
        for i, send in enumerate(sends):
            tasks.append(asyncio.ensure_future(send))
            if i >= len(sends) - joining:
                await asyncio.sleep(0.05)
                continue
            for _ in range(500):
                if hs.rooms.creator.queued(room_id) == len(tasks):
                    break
                await asyncio.sleep(0.01)
            assert hs.rooms.creator.queued(room_id) == len(tasks)
    return await asyncio.gather(*tasks, return_exceptions=True)


async def timeline(hs: HomeServer, room_id: str) -> list[tuple[str, int, int]]:
    """(event ID, depth, stream ordering) of the room's events in stream order."""
    rows = await hs.rooms.events.db.fetch(
        "SELECT event_id, depth, stream_ordering FROM events WHERE room_id = $1"
        " ORDER BY stream_ordering",
        room_id,
    )
    return [(r["event_id"], int(r["depth"]), int(r["stream_ordering"])) for r in rows]


async def assert_chain(hs: HomeServer, room_id: str) -> list[str]:
    """The room's DAG is one chain in stream order; returns its event IDs."""
    rows = await timeline(hs, room_id)
    ids = [event_id for event_id, _, _ in rows]
    events = await hs.rooms.events.get_events(ids)
    for (before, before_depth, _), (after, after_depth, _) in itertools.pairwise(rows):
        assert events[after].prev_event_ids == [before]
        assert after_depth == before_depth + 1
    assert await hs.rooms.events.get_forward_extremities(room_id) == [ids[-1]]
    return ids


async def test_concurrent_sends_make_one_chain(hs: HomeServer) -> None:
    room = await make_room(hs, BOB, CAROL)
    senders = [ALICE, BOB, CAROL]
    sends = [
        hs.rooms.creator.send(
            room, message(senders[i % 3], f"m{i}"), txn=(senders[i % 3], "D", f"t{i}")
        )
        for i in range(60)
    ]
    events = await asyncio.gather(*sends)
    assert len({e.event_id for e in events}) == 60
    assert [e.content["body"] for e in events] == [f"m{i}" for i in range(60)]
    ids = await assert_chain(hs, room)
    # Each send's idempotency look-up decides when it joins the queue: any order, all there.
    assert set(ids[-60:]) == {e.event_id for e in events}


async def test_queued_sends_are_one_batch(hs: HomeServer) -> None:
    room = await make_room(hs, BOB)
    batches = Batches(hs)
    before = await timeline(hs, room)
    events = await queued_together(
        hs, room, [hs.rooms.creator.send(room, message(BOB, f"m{i}")) for i in range(MAX_BATCH + 5)]
    )
    assert all(isinstance(e, Event) for e in events)
    ids = [e.event_id for e in events]
    # Capped: the first MAX_BATCH in one notification (one transaction), the rest in the next.
    assert batches.seen == [ids[:MAX_BATCH], ids[MAX_BATCH:]]
    rows = await timeline(hs, room)
    assert [r[0] for r in rows] == [r[0] for r in before] + ids
    # Consecutive stream positions, in depth order.
    positions = [r[2] for r in rows[len(before) :]]
    assert positions == list(range(positions[0], positions[0] + len(ids)))
    await assert_chain(hs, room)


async def test_refused_draft_fails_only_its_sender(hs: HomeServer) -> None:
    room = await make_room(hs, BOB)
    batches = Batches(hs)
    before = await timeline(hs, room)
    results = await queued_together(
        hs,
        room,
        [
            hs.rooms.creator.send(room, message(ALICE, "first")),
            # Not in the room: v10 auth rules, "If the sender's current membership state is not
            # join, reject".
            hs.rooms.creator.send(room, message(MALLORY, "intruder")),
            hs.rooms.creator.send(room, message(BOB, "second")),
            # Bob has power level 0; changing the name needs 50.
            hs.rooms.creator.send(room, EventDraft(BOB, "m.room.name", {"name": "x"}, "")),
            # Refused before it is built: event types are stored as text, which cannot hold
            # U+0000 on PostgreSQL.
            hs.rooms.creator.send(room, EventDraft(ALICE, "m.room\x00message", {"body": "x"})),
            hs.rooms.creator.send(room, message(ALICE, "third")),
        ],
    )
    first, intruder, second, rename, nul, third = results
    assert isinstance(intruder, Forbidden)
    assert isinstance(rename, Forbidden)
    assert isinstance(nul, BadJson)
    assert [first.content["body"], second.content["body"], third.content["body"]] == [
        "first",
        "second",
        "third",
    ]
    assert second.prev_event_ids == [first.event_id]
    assert third.prev_event_ids == [second.event_id]
    assert batches.seen == [[first.event_id, second.event_id, third.event_id]]
    rows = await timeline(hs, room)
    assert [r[0] for r in rows] == [r[0] for r in before] + [
        first.event_id,
        second.event_id,
        third.event_id,
    ]
    state = await hs.rooms.state.get_current_state_ids(room)
    assert ("m.room.name", "") not in state
    await assert_chain(hs, room)


async def test_repeated_transaction_id_in_one_batch(hs: HomeServer) -> None:
    room = await make_room(hs, BOB)
    txn = (BOB, "DEV", "same")
    results = await queued_together(
        hs,
        room,
        [
            hs.rooms.creator.send(room, message(BOB, "once"), txn=txn),
            hs.rooms.creator.send(room, message(BOB, "other"), txn=(BOB, "DEV", "other")),
            hs.rooms.creator.send(room, message(BOB, "once"), txn=txn),
        ],
        joining=1,
    )
    once, other, again = results
    assert once.event_id == again.event_id
    assert other.event_id != once.event_id
    rows = await hs.rooms.events.db.fetch(
        "SELECT event_id FROM events WHERE room_id = $1 AND sender = $2", room, BOB
    )
    bodies = await hs.rooms.events.get_events([r["event_id"] for r in rows])
    assert sorted(
        e.content.get("body", "") for e in bodies.values() if e.type == "m.room.message"
    ) == [
        "once",
        "other",
    ]
    assert await hs.rooms.events.get_txn_event(*txn) == once.event_id
    # Answered from storage once the batch is stored.
    later = await hs.rooms.creator.send(room, message(BOB, "ignored"), txn=txn)
    assert later.event_id == once.event_id


async def test_failed_persist_fails_the_whole_batch(
    hs: HomeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = await make_room(hs, BOB, CAROL)
    batches = Batches(hs)
    before = await timeline(hs, room)
    extremities = await hs.rooms.events.get_forward_extremities(room)
    forgotten: list[str] = []
    forget = hs.push.forget_unpersisted

    def record_forget(event: Event) -> None:
        forgotten.append(event.event_id)
        forget(event)

    async def broken(entries: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(hs.push, "forget_unpersisted", record_forget)
    monkeypatch.setattr(hs.rooms.creator.persister, "persist", broken)
    results = await queued_together(
        hs,
        room,
        [
            hs.rooms.creator.send(room, message(ALICE, "a"), txn=(ALICE, "D", "a")),
            hs.rooms.creator.send(room, message(BOB, "b")),
            hs.rooms.creator.send(room, message(MALLORY, "refused")),
            hs.rooms.creator.send(room, message(CAROL, "c")),
        ],
    )
    assert [type(r) for r in results] == [RuntimeError, RuntimeError, Forbidden, RuntimeError]
    assert batches.seen == []
    # Push actions were evaluated for the three messages (Bob and Carol get them) and dropped.
    assert len(forgotten) == 3
    assert await timeline(hs, room) == before
    assert await hs.rooms.events.get_forward_extremities(room) == extremities
    assert await hs.rooms.events.get_txn_event(ALICE, "D", "a") is None
    assert await hs.push.unread_counts(BOB, room) == (0, 0)
    monkeypatch.undo()
    # The room goes on from where it was; the transaction ID is free again.
    retry = await hs.rooms.creator.send(room, message(ALICE, "a"), txn=(ALICE, "D", "a"))
    assert retry.prev_event_ids == extremities
    assert await hs.push.unread_counts(BOB, room) == (1, 0)
    await assert_chain(hs, room)


async def test_state_and_messages_in_one_batch(hs: HomeServer) -> None:
    room = await make_room(hs, BOB)
    batches = Batches(hs)
    results = await queued_together(
        hs,
        room,
        [
            hs.rooms.creator.send(room, message(ALICE, "before carol")),
            hs.rooms.membership.change(CAROL, room, CAROL, "join"),
            hs.rooms.creator.send(room, message(ALICE, "after carol")),
            hs.rooms.creator.send(room, EventDraft(ALICE, "m.room.topic", {"topic": "t"}, "")),
            hs.rooms.creator.send(room, message(CAROL, "hello")),
        ],
    )
    assert all(isinstance(r, Event) for r in results)
    assert batches.seen == [[r.event_id for r in results]]
    await assert_chain(hs, room)
    state = await hs.rooms.state.get_current_state_ids(room)
    assert state[("m.room.member", CAROL)] == results[1].event_id
    assert state[("m.room.topic", "")] == results[3].event_id
    # The state after each event is its own: Carol's message sees the topic and her join.
    after_first = await hs.rooms.state.get_state_after(results[0].event_id)
    assert after_first is not None and ("m.room.member", CAROL) not in after_first
    after_last = await hs.rooms.state.get_state_after(results[4].event_id)
    assert after_last == state
    # Carol is notified of the message sent after her join in the same batch, not the one before.
    assert await hs.push.unread_counts(CAROL, room) == (1, 0)
    assert await hs.push.unread_counts(BOB, room) == (3, 0)


async def test_batch_waits_for_another_writer_holding_the_lock(hs: HomeServer) -> None:
    """A writer holding the room's lock (as federation and room creation do) persists first;
    the batch queued meanwhile builds on its event."""
    room = await make_room(hs, BOB)
    creator = hs.rooms.creator
    async with hs.rooms.locks.lock(room):
        tasks = [asyncio.ensure_future(creator.send(room, message(BOB, f"m{i}"))) for i in (1, 2)]
        for _ in range(500):
            if creator.queued(room) == 2:
                break
            await asyncio.sleep(0.01)
        assert creator.queued(room) == 2
        context = await creator.load_context(room)
        other = await creator.build_and_authorise(context, message(ALICE, "under the lock"))
        state = await hs.rooms.state.get_current_state_ids(room)
        await creator.persister.persist(
            [
                PersistEntry(
                    event=other,
                    state_after=state,
                    base_group=context.base_group,
                    new_extremities=[other.event_id],
                )
            ]
        )
    first, second = await asyncio.gather(*tasks)
    assert first.prev_event_ids == [other.event_id]
    assert second.prev_event_ids == [first.event_id]
    await assert_chain(hs, room)
