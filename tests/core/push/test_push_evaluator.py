"""Evaluating the default push rules against representative events."""

from __future__ import annotations

from typing import Any

import pytest

from transom.core.push import (
    KNOCK_RULE_ID,
    PushContext,
    default_rules,
    evaluate,
    first_match,
    merge_rules,
    notification_counts_from_actions,
)

ALICE = "@alice:example.org"
BOB = "@bob:example.org"
ROOM = "!room:example.org"
SOUND = {"set_tweak": "sound", "value": "default"}
HIGHLIGHT = {"set_tweak": "highlight"}
RULES = default_rules(ALICE)
LEGACY = default_rules(ALICE, legacy_mention_rules=True)


def ctx(**kw: Any) -> PushContext:
    kw.setdefault("user_display_name", "Alice Liddell")
    kw.setdefault("room_member_count", 5)
    return PushContext(user_id=ALICE, **kw)


def message(body: str = "hello", sender: str = BOB, **content: Any) -> dict[str, Any]:
    return {
        "type": "m.room.message",
        "room_id": ROOM,
        "sender": sender,
        "content": {"msgtype": "m.text", "body": body, **content},
    }


def member(membership: str, state_key: str, sender: str = BOB) -> dict[str, Any]:
    return {
        "type": "m.room.member",
        "room_id": ROOM,
        "sender": sender,
        "state_key": state_key,
        "content": {"membership": membership},
    }


def rule_id(ruleset: dict[str, Any], event: dict[str, Any], c: PushContext) -> str | None:
    found = first_match(ruleset, event, c)
    return None if found is None else found[1]["rule_id"]


def test_message_in_group_and_one_to_one() -> None:
    assert rule_id(RULES, message(), ctx()) == ".m.rule.message"
    assert evaluate(RULES, message(), ctx()) == ["notify"]
    assert rule_id(RULES, message(), ctx(room_member_count=2)) == ".m.rule.room_one_to_one"
    assert evaluate(RULES, message(), ctx(room_member_count=2)) == ["notify", SOUND]


def test_encrypted_in_group_and_one_to_one() -> None:
    event = {"type": "m.room.encrypted", "room_id": ROOM, "sender": BOB, "content": {}}
    assert rule_id(RULES, event, ctx()) == ".m.rule.encrypted"
    assert evaluate(RULES, event, ctx(room_member_count=2)) == ["notify", SOUND]


def test_call_rings() -> None:
    event = {"type": "m.call.invite", "room_id": ROOM, "sender": BOB, "content": {}}
    assert evaluate(RULES, event, ctx()) == ["notify", {"set_tweak": "sound", "value": "ring"}]


def test_user_mention_highlights() -> None:
    event = message("hi", **{"m.mentions": {"user_ids": [ALICE]}})
    assert rule_id(RULES, event, ctx()) == ".m.rule.is_user_mention"
    assert evaluate(RULES, event, ctx()) == ["notify", SOUND, HIGHLIGHT]
    other = message("hi", **{"m.mentions": {"user_ids": ["@carol:example.org"]}})
    assert rule_id(RULES, other, ctx()) == ".m.rule.message"


def test_room_mention_needs_sender_permission() -> None:
    event = message("everyone!", **{"m.mentions": {"room": True}})
    assert rule_id(RULES, event, ctx(sender_power_level=50)) == ".m.rule.is_room_mention"
    assert evaluate(RULES, event, ctx(sender_power_level=50)) == ["notify", HIGHLIGHT]
    assert rule_id(RULES, event, ctx(sender_power_level=49)) == ".m.rule.message"
    lowered = ctx(sender_power_level=0, notification_levels={"room": 0})
    assert rule_id(RULES, event, lowered) == ".m.rule.is_room_mention"
    # "room": "true" (a string) is not the boolean true.
    stringy = message("x", **{"m.mentions": {"room": "true"}})
    assert rule_id(RULES, stringy, ctx(sender_power_level=100)) == ".m.rule.message"


def test_body_mentions_only_with_legacy_rules_and_without_m_mentions() -> None:
    by_name = message("ping alice liddell")
    by_localpart = message("ALICE: ping")
    at_room = message("@room look")
    assert rule_id(RULES, by_name, ctx()) == ".m.rule.message"
    assert rule_id(RULES, by_localpart, ctx()) == ".m.rule.message"
    assert rule_id(LEGACY, by_name, ctx()) == ".m.rule.contains_display_name"
    assert rule_id(LEGACY, by_localpart, ctx()) == ".m.rule.contains_user_name"
    assert evaluate(LEGACY, by_localpart, ctx()) == ["notify", SOUND, HIGHLIGHT]
    assert rule_id(LEGACY, at_room, ctx(sender_power_level=50)) == ".m.rule.roomnotif"
    assert rule_id(LEGACY, at_room, ctx(sender_power_level=0)) == ".m.rule.message"
    # "should only be enabled if the event does not have an m.mentions property"
    for body in ("ping alice liddell", "ALICE: ping", "@room look"):
        event = message(body, **{"m.mentions": {}})
        assert rule_id(LEGACY, event, ctx(sender_power_level=100)) == ".m.rule.message"


def test_notices_edits_reactions_and_acls_are_suppressed() -> None:
    mention = {"m.mentions": {"user_ids": [ALICE]}}
    notice = message("alice", msgtype="m.notice", **mention)
    assert rule_id(RULES, notice, ctx()) == ".m.rule.suppress_notices"
    assert evaluate(RULES, notice, ctx()) == []
    edit = message("* fixed", **{"m.relates_to": {"rel_type": "m.replace", "event_id": "$e"}})
    assert rule_id(RULES, edit, ctx()) == ".m.rule.suppress_edits"
    assert evaluate(RULES, edit, ctx()) == []
    thread = message("reply", **{"m.relates_to": {"rel_type": "m.thread", "event_id": "$e"}})
    assert rule_id(RULES, thread, ctx()) == ".m.rule.message"
    reaction = {"type": "m.reaction", "room_id": ROOM, "sender": BOB, "content": {}}
    assert evaluate(RULES, reaction, ctx(room_member_count=2)) == []
    acl = {"type": "m.room.server_acl", "room_id": ROOM, "sender": BOB, "state_key": ""}
    assert rule_id(RULES, {**acl, "content": {}}, ctx()) == ".m.rule.room.server_acl"
    # No implicit state_key condition: a non-state ACL-typed event is not matched by the rule.
    assert first_match(RULES, {"type": "m.room.server_acl", "sender": BOB}, ctx()) is None


def test_tombstone_only_as_state_event() -> None:
    state = {"type": "m.room.tombstone", "sender": BOB, "state_key": "", "content": {}}
    assert evaluate(RULES, state, ctx()) == ["notify", HIGHLIGHT]
    assert first_match(RULES, {**state, "state_key": "x"}, ctx()) is None
    no_key = {"type": "m.room.tombstone", "sender": BOB, "content": {}}
    assert first_match(RULES, no_key, ctx()) is None


def test_invite_for_me_and_other_member_events() -> None:
    invite = member("invite", ALICE)
    assert rule_id(RULES, invite, ctx()) == ".m.rule.invite_for_me"
    assert evaluate(RULES, invite, ctx()) == ["notify", SOUND]
    for event in (member("invite", "@carol:example.org"), member("join", BOB)):
        assert rule_id(RULES, event, ctx()) == ".m.rule.member_event"
        assert evaluate(RULES, event, ctx()) == []


KNOCK_LEVELS = {"invite": 50}


def test_knock_notifies_who_can_invite() -> None:
    knock = member("knock", "@knocker:remote.example", sender="@knocker:remote.example")
    mod = ctx(recipient_power_level=50, action_levels=KNOCK_LEVELS)
    assert rule_id(RULES, knock, mod) == KNOCK_RULE_ID
    assert evaluate(RULES, knock, mod) == ["notify", SOUND]
    assert notification_counts_from_actions(evaluate(RULES, knock, mod) or []) == (True, False)


def test_knock_is_silent_below_the_invite_level() -> None:
    knock = member("knock", "@knocker:remote.example", sender="@knocker:remote.example")
    member_ctx = ctx(recipient_power_level=49, action_levels=KNOCK_LEVELS)
    # The knock rule does not fire, so .m.rule.member_event suppresses it.
    assert rule_id(RULES, knock, member_ctx) == ".m.rule.member_event"
    assert evaluate(RULES, knock, member_ctx) == []
    # With spec-default power levels everyone may invite (invite: 0) and is notified.
    assert rule_id(RULES, knock, ctx()) == KNOCK_RULE_ID


@pytest.mark.parametrize("membership", ["join", "leave", "ban", "invite"])
def test_knock_rule_ignores_other_memberships(membership: str) -> None:
    event = member(membership, "@carol:example.org")
    mod = ctx(recipient_power_level=100, action_levels=KNOCK_LEVELS)
    assert rule_id(RULES, event, mod) == ".m.rule.member_event"


def test_knock_rule_needs_a_member_event() -> None:
    fake = {"type": "m.room.message", "sender": BOB, "content": {"membership": "knock"}}
    assert rule_id(RULES, fake, ctx(recipient_power_level=100)) == ".m.rule.message"


def test_knock_rule_is_evaluated_before_member_event() -> None:
    knock = member("knock", "@k:remote.example", sender="@k:remote.example")
    mod = ctx(recipient_power_level=100)
    without = merge_rules(RULES, enabled={("override", KNOCK_RULE_ID): False})
    assert rule_id(without, knock, mod) == ".m.rule.member_event"
    assert rule_id(RULES, knock, mod) == KNOCK_RULE_ID


def test_own_events_are_never_pushed() -> None:
    assert evaluate(RULES, message(sender=ALICE), ctx()) is None
    assert first_match(RULES, member("knock", ALICE, sender=ALICE), ctx()) is None


def test_no_rule_matching_means_none() -> None:
    topic = {"type": "m.room.topic", "sender": BOB, "state_key": "", "content": {"topic": "x"}}
    assert evaluate(RULES, topic, ctx()) is None


def test_master_rule_silences_everything_once_enabled() -> None:
    muted = merge_rules(RULES, enabled={("override", ".m.rule.master"): True})
    for event in (message(), member("invite", ALICE), member("knock", "@k:x", sender="@k:x")):
        assert rule_id(muted, event, ctx()) == ".m.rule.master"
        assert evaluate(muted, event, ctx()) == []


def test_kind_order_override_content_room_sender_underride() -> None:
    user_rules: dict[str, list[dict[str, Any]]] = {
        "content": [{"rule_id": "cake", "pattern": "cake", "actions": ["notify", HIGHLIGHT]}],
        "room": [{"rule_id": ROOM, "actions": []}],
        "sender": [{"rule_id": BOB, "actions": ["notify", SOUND]}],
    }
    merged = merge_rules(RULES, user_rules)
    assert rule_id(merged, message("cake time"), ctx()) == "cake"
    assert rule_id(merged, message("tea time"), ctx()) == ROOM
    elsewhere = {**message("tea time"), "room_id": "!other:example.org"}
    assert rule_id(merged, elsewhere, ctx()) == BOB
    from_carol = {**elsewhere, "sender": "@carol:example.org"}
    assert rule_id(merged, from_carol, ctx()) == ".m.rule.message"
    # Overrides beat content rules: a notice mentioning cake stays suppressed.
    notice = message("cake", msgtype="m.notice")
    assert rule_id(merged, notice, ctx()) == ".m.rule.suppress_notices"


def test_disabled_rules_are_skipped() -> None:
    merged = merge_rules(RULES, enabled={("underride", ".m.rule.message"): False})
    assert evaluate(merged, message(), ctx()) is None
    assert rule_id(merged, message(), ctx(room_member_count=2)) == ".m.rule.room_one_to_one"


def test_historical_actions_are_stripped() -> None:
    custom = merge_rules(
        RULES,
        {
            "override": [
                {"rule_id": "old", "conditions": [], "actions": ["dont_notify", "coalesce"]}
            ]
        },
    )
    assert evaluate(custom, message(), ctx()) == []
    odd = merge_rules(RULES, actions={("underride", ".m.rule.message"): ["coalesce", "notify"]})
    assert evaluate(odd, message(), ctx()) == ["notify"]


def test_malformed_rules_never_match() -> None:
    ruleset = {
        "global": {
            "override": [
                "not a rule",
                {"rule_id": "x", "enabled": True, "conditions": "nope", "actions": ["notify"]},
                {"rule_id": "y", "enabled": True, "conditions": [{"kind": "??"}], "actions": []},
            ],
            "content": [
                {"rule_id": "p", "enabled": True, "actions": ["notify"]},
                {"rule_id": "q", "enabled": True, "pattern": "hello", "actions": "notify"},
            ],
            "room": [{"enabled": True, "actions": ["notify"]}],
            "sender": [{"rule_id": 5, "enabled": True, "actions": ["notify"]}],
            "underride": [],
        }
    }
    assert first_match(ruleset, {"sender": BOB, "content": {"body": 1}}, ctx()) is None
    # A content rule whose actions are not a list matches, with no actions.
    assert evaluate(ruleset, message("hello"), ctx()) == []
