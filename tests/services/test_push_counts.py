"""Unread notification counts driven by the push rule evaluator (client-server API, "Receiving
notifications"; MSC4506 knock notifications), at the service level on both storage engines."""

from __future__ import annotations

from typing import Any

from transom.app import HomeServer
from transom.services.rooms.creation import parse_create_room
from transom.services.rooms.events import EventDraft

SERVER = "counts.test"
ALICE, BOB, CAROL, DAVE = (f"@{n}:{SERVER}" for n in ("alice", "bob", "carol", "dave"))


async def make_room(hs: HomeServer, *members: str, knock: bool = False, **body: Any) -> str:
    """A room created by Alice and joined by ``members``; then knock-only if ``knock``."""
    request = parse_create_room({"preset": "public_chat", **body}, "10")
    room_id, _ = await hs.rooms.room_creator.create_room(ALICE, request)
    for user in members:
        await hs.rooms.join(user, room_id)
    if knock:
        rule = EventDraft(ALICE, "m.room.join_rules", {"join_rule": "knock"}, "")
        await hs.rooms.creator.send(room_id, rule)
    return room_id


async def say(hs: HomeServer, room_id: str, sender: str, **content: Any) -> str:
    content = {"msgtype": "m.text", "body": "hi", **content}
    event = await hs.rooms.creator.send(room_id, EventDraft(sender, "m.room.message", content))
    return event.event_id


async def test_messages_count_for_others_not_sender(hs: HomeServer) -> None:
    room = await make_room(hs, BOB, CAROL)
    await say(hs, room, ALICE)
    await say(hs, room, ALICE)
    assert await hs.push.unread_counts(BOB, room) == (2, 0)
    assert await hs.push.unread_counts(CAROL, room) == (2, 0)
    assert await hs.push.unread_counts(ALICE, room) == (0, 0)


async def test_mention_highlights(hs: HomeServer) -> None:
    room = await make_room(hs, BOB)
    await say(hs, room, ALICE, **{"m.mentions": {"user_ids": [BOB]}})
    assert await hs.push.unread_counts(BOB, room) == (1, 1)


async def test_read_receipt_resets_up_to_its_event(hs: HomeServer) -> None:
    room = await make_room(hs, BOB)
    first = await say(hs, room, ALICE)
    await say(hs, room, ALICE, **{"m.mentions": {"user_ids": [BOB]}})
    await say(hs, room, ALICE)
    assert await hs.push.unread_counts(BOB, room) == (3, 1)
    await hs.receipts.set_receipt(BOB, room, "m.read", first)
    assert await hs.push.unread_counts(BOB, room) == (2, 1)
    last = await say(hs, room, ALICE)
    await hs.receipts.set_receipt(BOB, room, "m.read.private", last)
    assert await hs.push.unread_counts(BOB, room) == (0, 0)
    # An older receipt moves nothing back.
    await hs.receipts.set_receipt(BOB, room, "m.read", first)
    receipts = await hs.receipts.receipt_events(BOB, [room], 0)
    assert BOB in receipts[room][last]["m.read.private"]
    assert BOB in receipts[room][first]["m.read"]


async def test_threaded_receipt_clears_only_its_thread(hs: HomeServer) -> None:
    room = await make_room(hs, BOB)
    root = await say(hs, room, ALICE)
    in_thread = await say(
        hs, room, ALICE, **{"m.relates_to": {"rel_type": "m.thread", "event_id": root}}
    )
    assert await hs.push.unread_counts(BOB, room) == (2, 0)
    await hs.receipts.set_receipt(BOB, room, "m.read", in_thread, thread_id=root)
    assert await hs.push.unread_counts(BOB, room) == (1, 0)
    await hs.receipts.set_receipt(BOB, room, "m.read", root, thread_id="main")
    assert await hs.push.unread_counts(BOB, room) == (0, 0)


async def test_user_rules_change_counting(hs: HomeServer) -> None:
    room = await make_room(hs, BOB)
    await hs.push.put_rule(BOB, "room", {"rule_id": room, "actions": []})
    await say(hs, room, ALICE)
    assert await hs.push.unread_counts(BOB, room) == (0, 0)
    await hs.push.set_enabled(BOB, "room", room, False)
    await say(hs, room, ALICE)
    assert await hs.push.unread_counts(BOB, room) == (1, 0)


async def test_one_to_one_and_member_count_follow_joins(hs: HomeServer) -> None:
    room = await make_room(hs, BOB)
    # .m.rule.room_one_to_one adds a sound; the count is the same, but the cached member count
    # must follow joins and leaves for the rule to stop matching.
    await hs.push.set_actions(BOB, "underride", ".m.rule.message", [])
    await say(hs, room, ALICE)
    assert await hs.push.unread_counts(BOB, room) == (1, 0)
    await hs.rooms.join(CAROL, room)
    await say(hs, room, ALICE)
    assert await hs.push.unread_counts(BOB, room) == (1, 0)
    await hs.rooms.membership.change(CAROL, room, CAROL, "leave")
    await say(hs, room, ALICE)
    assert await hs.push.unread_counts(BOB, room) == (2, 0)
    # Carol counts the message sent while she was joined, not the one after she left.
    assert await hs.push.unread_counts(CAROL, room) == (1, 0)


async def test_knock_notifies_only_members_who_can_invite(hs: HomeServer) -> None:
    # MSC4506: .org.matrix.msc4506.rule.knock notifies members whose level reaches "invite".
    room = await make_room(
        hs,
        BOB,
        CAROL,
        knock=True,
        power_level_content_override={"invite": 50, "users": {ALICE: 100, BOB: 50}},
    )
    await hs.rooms.membership.change(DAVE, room, DAVE, "knock")
    assert await hs.push.unread_counts(BOB, room) == (1, 0)
    assert await hs.push.unread_counts(ALICE, room) == (1, 0)
    assert await hs.push.unread_counts(CAROL, room) == (0, 0)


async def test_power_level_change_is_seen(hs: HomeServer) -> None:
    room = await make_room(
        hs,
        BOB,
        knock=True,
        power_level_content_override={"invite": 50, "users": {ALICE: 100}},
    )
    await hs.rooms.membership.change(DAVE, room, DAVE, "knock")
    assert await hs.push.unread_counts(BOB, room) == (0, 0)
    levels = {"invite": 50, "users": {ALICE: 100, BOB: 50}}
    await hs.rooms.creator.send(room, EventDraft(ALICE, "m.room.power_levels", levels, ""))
    await hs.rooms.membership.change(CAROL, room, CAROL, "knock")
    assert await hs.push.unread_counts(BOB, room) == (1, 0)


async def test_local_message_actions_are_written_with_the_event(hs: HomeServer) -> None:
    room = await make_room(hs, BOB)
    # Without the after-the-fact listener, the counts can only come from the event's own write.
    hs.rooms.creator.listeners.remove(hs.push.on_new_events)
    event_id = await say(hs, room, ALICE, **{"m.mentions": {"user_ids": [BOB]}})
    assert await hs.push.unread_counts(BOB, room) == (1, 1)
    stream = await hs.rooms.events.get_stream_ordering(event_id)
    row = await hs.store.db.fetchrow(
        "SELECT stream_ordering FROM event_push_actions WHERE user_id = $1 AND event_id = $2",
        BOB,
        event_id,
    )
    assert row is not None and row["stream_ordering"] == stream
