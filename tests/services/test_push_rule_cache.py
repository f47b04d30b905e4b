"""Each user's merged and compiled push rules are cached; every kind of rule change ("Push Rules:
API": PUT and DELETE of a rule, its ``enabled`` and its ``actions``) takes effect on the very next
event, on both storage engines."""

from __future__ import annotations

import asyncio
from typing import Any

from transom.app import HomeServer
from transom.services.rooms.creation import parse_create_room
from transom.services.rooms.events import EventDraft

SERVER = "rulecache.test"
ALICE, BOB, CAROL = (f"@{n}:{SERVER}" for n in ("alice", "bob", "carol"))


async def make_room(hs: HomeServer, *members: str) -> str:
    room_id, _ = await hs.rooms.room_creator.create_room(
        ALICE, parse_create_room({"preset": "public_chat"}, "10")
    )
    for user in members:
        await hs.rooms.join(user, room_id)
    return room_id


async def say(hs: HomeServer, room_id: str, sender: str, body: str) -> None:
    content: dict[str, Any] = {"msgtype": "m.text", "body": body}
    await hs.rooms.creator.send(room_id, EventDraft(sender, "m.room.message", content))


SHOUT = {
    "rule_id": "shout",
    "conditions": [{"kind": "event_match", "key": "content.body", "pattern": "urgent"}],
    "actions": ["notify", {"set_tweak": "highlight"}],
}


async def test_every_rule_change_applies_to_the_next_message(hs: HomeServer) -> None:
    room = await make_room(hs, BOB, CAROL)
    await say(hs, room, ALICE, "urgent")  # both users' rules are now cached
    assert await hs.push.unread_counts(BOB, room) == (1, 0)

    await hs.push.put_rule(BOB, "override", dict(SHOUT))
    await say(hs, room, ALICE, "this is urgent!")
    assert await hs.push.unread_counts(BOB, room) == (2, 1)
    # Carol's cached rules are hers alone.
    assert await hs.push.unread_counts(CAROL, room) == (2, 0)

    await hs.push.set_actions(BOB, "override", "shout", [])
    await say(hs, room, ALICE, "urgent")
    assert await hs.push.unread_counts(BOB, room) == (2, 1)

    await hs.push.set_enabled(BOB, "override", "shout", False)
    await say(hs, room, ALICE, "urgent")
    assert await hs.push.unread_counts(BOB, room) == (3, 1)

    await hs.push.set_enabled(BOB, "override", "shout", True)
    await hs.push.delete_rule(BOB, "override", "shout")
    await say(hs, room, ALICE, "urgent")
    assert await hs.push.unread_counts(BOB, room) == (4, 1)

    await hs.push.set_enabled(BOB, "override", ".m.rule.master", True)
    await say(hs, room, ALICE, "urgent")
    assert await hs.push.unread_counts(BOB, room) == (4, 1)
    assert await hs.push.unread_counts(CAROL, room) == (6, 0)


async def test_served_ruleset_follows_changes(hs: HomeServer) -> None:
    before = await hs.push.get_ruleset(BOB)
    assert before["global"]["override"][0]["rule_id"] == ".m.rule.master"
    await hs.push.put_rule(BOB, "override", dict(SHOUT))
    after = await hs.push.get_ruleset(BOB)
    assert [r["rule_id"] for r in after["global"]["override"]][:2] == [".m.rule.master", "shout"]
    await hs.push.delete_rule(BOB, "override", "shout")
    again = await hs.push.get_ruleset(BOB)
    assert "shout" not in [r["rule_id"] for r in again["global"]["override"]]


async def test_a_change_during_a_load_is_not_hidden_by_it(hs: HomeServer) -> None:
    """A ruleset read before a concurrent change finished must not be cached over it."""
    push = hs.push
    real = push.rules.get_user_rules
    reading = asyncio.Event()
    release = asyncio.Event()

    async def slow(user_id: str) -> Any:
        own = await real(user_id)  # read before the change below
        reading.set()
        await release.wait()
        return own

    push.rules.get_user_rules = slow  # type: ignore[method-assign]
    stale_load = asyncio.create_task(push.get_ruleset(BOB))
    await reading.wait()
    push.rules.get_user_rules = real  # type: ignore[method-assign]
    await push.put_rule(BOB, "override", dict(SHOUT))
    release.set()
    stale = await stale_load
    assert "shout" not in [r["rule_id"] for r in stale["global"]["override"]]
    fresh = await push.get_ruleset(BOB)
    assert "shout" in [r["rule_id"] for r in fresh["global"]["override"]]
