"""Unread counts of many rooms read together match the per-room read (client-server API,
"Receiving notifications": ``unread_notifications`` in ``/sync``), on both storage engines."""

from __future__ import annotations

from transom.app import HomeServer
from transom.services.rooms.creation import parse_create_room
from transom.services.rooms.events import EventDraft

SERVER = "many.test"
ALICE, BOB = (f"@{n}:{SERVER}" for n in ("alice", "bob"))


async def test_counts_of_many_rooms_match_each_room(hs: HomeServer) -> None:
    rooms = []
    for said in range(4):
        request = parse_create_room({"preset": "public_chat"}, "10")
        room_id, _ = await hs.rooms.room_creator.create_room(ALICE, request)
        await hs.rooms.join(BOB, room_id)
        for i in range(said):
            mentions = {"m.mentions": {"user_ids": [BOB]}} if i == 0 else {}
            content = {"msgtype": "m.text", "body": "hi", **mentions}
            await hs.rooms.creator.send(room_id, EventDraft(ALICE, "m.room.message", content))
        rooms.append(room_id)
    many = await hs.push.unread_counts_many(BOB, [*rooms, rooms[0]])
    assert many == {r: await hs.push.unread_counts(BOB, r) for r in rooms}
    assert [many[r] for r in rooms] == [(0, 0), (1, 1), (2, 1), (3, 1)]
    assert await hs.push.unread_counts_many(ALICE, rooms) == {r: (0, 0) for r in rooms}
    assert await hs.push.unread_counts_many(BOB, []) == {}
