"""Push rule conditions (client-server API "Conditions"; MSC4506 recipient_permission)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from transom.core.push import RECIPIENT_PERMISSION, PushContext, condition_matches

CTX = PushContext(user_id="@alice:example.org", user_display_name="Alice")


def matches(cond: Any, event: dict[str, Any], ctx: PushContext = CTX) -> bool:
    return condition_matches(cond, event, ctx)


def test_event_match_needs_a_string_value() -> None:
    cond = {"kind": "event_match", "key": "content.topic", "pattern": "*"}
    assert matches(cond, {"content": {"topic": ""}})
    # "absent ... or does not have a string value ... will not match, even if pattern is *"
    assert not matches(cond, {"content": {}})
    assert not matches(cond, {"content": {"topic": None}})
    assert not matches(cond, {"content": {"topic": 1}})
    assert not matches(cond, {"content": {"topic": ["x"]}})


def test_event_match_body_uses_word_boundaries_other_keys_do_not() -> None:
    body = {"kind": "event_match", "key": "content.body", "pattern": "cake"}
    topic = {"kind": "event_match", "key": "content.topic", "pattern": "cake"}
    event = {"content": {"body": "more cake please", "topic": "more cake please"}}
    assert matches(body, event)
    assert not matches(topic, event)


def test_event_match_malformed() -> None:
    event = {"type": "m.room.message"}
    assert not matches({"kind": "event_match", "key": "type"}, event)
    assert not matches({"kind": "event_match", "pattern": "*"}, event)
    assert not matches({"kind": "event_match", "key": "type", "pattern": 5}, event)


CREATE = {
    "content": {
        "creator": "@example:example.org",
        "m.federate": True,
        "predecessor": {"event_id": "$something:example.org", "room_id": "!old:example.org"},
        "room_version": "1",
        "n": 1,
        "nothing": None,
        "big": 2**53,
        "f": 1.0,
    },
    "type": "m.room.create",
    "state_key": "",
}


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("content.m\\.federate", True, True),  # spec example
        ("content.m\\.federate", "true", False),  # "note the string value"
        ("content.m\\.federate", 1, False),  # "do not cast types"
        ("content.m.federate", True, False),  # unescaped dot walks into content.m
        ("content.n", 1, True),
        ("content.n", True, False),
        ("content.n", 1.0, False),
        ("content.nothing", None, True),
        ("content.absent", None, False),
        ("content.predecessor", {"event_id": "$something:example.org"}, False),
        ("content.big", 2**53, False),  # outside canonical JSON's integer range
        ("content.f", 1.0, False),
        ("state_key", "", True),
        ("type", "m.room.create", True),
        ("type", "m\\.room\\.create", False),  # values are compared as-is, never unescaped
    ],
)
def test_event_property_is(key: str, value: Any, expected: bool) -> None:
    assert matches({"kind": "event_property_is", "key": key, "value": value}, CREATE) is expected


def test_event_property_is_without_value_never_matches() -> None:
    assert not matches({"kind": "event_property_is", "key": "content.nothing"}, CREATE)
    assert not matches({"kind": "event_property_is", "value": None}, CREATE)


ALIASES = {
    "content": {
        "alias": "#somewhere:localhost",
        "alt_aliases": ["#somewhere:example.org", "#myroom:example.com"],
        "mixed": [{"x": 1}, [1], 1.5, True, None, 7],
    },
    "type": "m.room.canonical_alias",
}


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("content.alt_aliases", "#myroom:example.com", True),  # spec example
        ("content.alt_aliases", ":example.com", False),  # "partial values do not match"
        ("content.alias", "#somewhere:localhost", False),  # not an array
        ("content.absent", "x", False),
        ("content.mixed", 1, False),  # True is not 1
        ("content.mixed", True, True),
        ("content.mixed", None, True),
        ("content.mixed", 7, True),
        ("content.mixed", 1.5, False),  # non-canonical values are ignored
        ("content.mixed", {"x": 1}, False),
    ],
)
def test_event_property_contains(key: str, value: Any, expected: bool) -> None:
    cond = {"kind": "event_property_contains", "key": key, "value": value}
    assert matches(cond, ALIASES) is expected


def test_event_property_contains_malformed() -> None:
    assert not matches({"kind": "event_property_contains", "key": "content.alt_aliases"}, ALIASES)
    assert not matches({"kind": "event_property_contains", "key": 3, "value": "x"}, ALIASES)


def test_contains_display_name() -> None:
    cond = {"kind": "contains_display_name"}
    assert matches(cond, {"content": {"body": "hey alice, lunch?"}})
    assert not matches(cond, {"content": {"body": "hey Alicette"}})
    assert not matches(cond, {"content": {"body": 42}})
    assert not matches(cond, {"content": {}})
    assert not matches(cond, {"content": {"body": "Alice"}}, PushContext(user_id="@a:x"))
    empty = PushContext(user_id="@a:x", user_display_name="")
    assert not matches(cond, {"content": {"body": "anything"}}, empty)
    dotted = PushContext(user_id="@a:x", user_display_name="J.R. (Bob)")
    assert matches(cond, {"content": {"body": "ask j.r. (bob) now"}}, dotted)
    assert not matches(cond, {"content": {"body": "ask JxR. (Bob) now"}}, dotted)


@pytest.mark.parametrize(
    ("spec", "count", "expected"),
    [
        ("2", 2, True),
        ("2", 3, False),
        ("==2", 2, True),
        ("==2", 1, False),
        ("<10", 9, True),
        ("<10", 10, False),
        (">10", 11, True),
        (">10", 10, False),
        ("<=10", 10, True),
        ("<=10", 11, False),
        (">=10", 10, True),
        (">=10", 9, False),
        ("02", 2, True),
        ("", 0, False),
        ("=2", 2, False),
        ("!=2", 3, False),
        ("2.0", 2, False),
        ("-1", 0, False),
        (" 2", 2, False),
    ],
)
def test_room_member_count(spec: str, count: int, expected: bool) -> None:
    ctx = PushContext(user_id="@a:x", room_member_count=count)
    assert matches({"kind": "room_member_count", "is": spec}, {}, ctx) is expected


def test_room_member_count_needs_a_string() -> None:
    ctx = PushContext(user_id="@a:x", room_member_count=2)
    assert not matches({"kind": "room_member_count", "is": 2}, {}, ctx)
    assert not matches({"kind": "room_member_count"}, {}, ctx)


def test_sender_notification_permission() -> None:
    cond = {"kind": "sender_notification_permission", "key": "room"}
    # "notifications.room ... Defaults to 50 if unspecified."
    assert matches(cond, {}, PushContext(user_id="@a:x", sender_power_level=50))
    assert not matches(cond, {}, PushContext(user_id="@a:x", sender_power_level=49))
    low = {"room": 0, "other": 20}
    assert matches(cond, {}, PushContext(user_id="@a:x", notification_levels=low))
    other = {"kind": "sender_notification_permission", "key": "other"}
    assert matches(
        other, {}, PushContext(user_id="@a:x", sender_power_level=20, notification_levels=low)
    )
    assert not matches(
        other, {}, PushContext(user_id="@a:x", sender_power_level=19, notification_levels=low)
    )
    # A malformed level reads as the default.
    bad = {"room": True}
    assert not matches(cond, {}, PushContext(user_id="@a:x", notification_levels=bad))
    assert not matches({"kind": "sender_notification_permission"}, {}, CTX)


@pytest.mark.parametrize(
    ("key", "levels", "power", "expected"),
    [
        ("invite", {}, 0, True),  # invite defaults to 0
        ("invite", {"invite": 50}, 49, False),
        ("invite", {"invite": 50}, 50, True),
        ("kick", {}, 49, False),  # kick, ban and redact default to 50
        ("kick", {}, 50, True),
        ("ban", {"ban": 100}, 99, False),
        ("ban", {"ban": 100}, 100, True),
        ("redact", {}, 50, True),
        ("redact", {"redact": 0}, -1, False),
        ("invite", {"invite": 100}, math.inf, True),  # v12 room creators
        ("state_default", {}, 100, False),  # "If key is none of the values above" - no match
        ("users_default", {}, 100, False),
        ("room", {}, 100, False),
    ],
)
def test_recipient_permission(
    key: str, levels: dict[str, int], power: float, expected: bool
) -> None:
    ctx = PushContext(user_id="@a:x", recipient_power_level=power, action_levels=levels)
    assert matches({"kind": RECIPIENT_PERMISSION, "key": key}, {}, ctx) is expected


def test_recipient_permission_reads_the_recipient_not_the_sender() -> None:
    cond = {"kind": RECIPIENT_PERMISSION, "key": "kick"}
    ctx = PushContext(user_id="@a:x", sender_power_level=100, recipient_power_level=0)
    assert not matches(cond, {}, ctx)
    assert not matches({"kind": RECIPIENT_PERMISSION}, {}, ctx)


def test_stable_and_unknown_kinds_never_match() -> None:
    # Until MSC4506 is merged only the unstable identifier is recognised.
    assert not matches({"kind": "recipient_permission", "key": "invite"}, {}, CTX)
    assert not matches({"kind": "no_such_condition"}, {}, CTX)
    assert not matches({}, {}, CTX)
    assert not matches({"kind": 1}, {}, CTX)
    assert not matches("event_match", {}, CTX)
