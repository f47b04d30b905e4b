"""Stripped state (client-server API "Stripped state"; create required since v1.16)."""

from __future__ import annotations

from typing import Any

from transom.core.events import Event, StateKey
from transom.core.room_versions import V11
from transom.core.stripped import (
    DEFAULT_STRIPPED_STATE_TYPES,
    strip_event,
    stripped_state,
    stripped_state_events,
)

ALICE = "@alice:example.com"


def _event(type: str, state_key: str, content: dict[str, Any], n: int) -> Event:
    pdu = {
        "type": type,
        "state_key": state_key,
        "sender": ALICE,
        "content": content,
        "room_id": "!r:example.com",
        "origin_server_ts": n,
        "depth": n,
        "prev_events": [],
        "auth_events": [],
        "hashes": {"sha256": "x"},
        "signatures": {"example.com": {"ed25519:a": "sig"}},
        "unsigned": {"age": 5},
    }
    return Event(pdu, V11, f"$e{n}")


def _state(*events: Event) -> dict[StateKey, Event]:
    return {event.state_tuple: event for event in events}


CREATE = _event("m.room.create", "", {"room_version": "11"}, 1)
MEMBER = _event("m.room.member", ALICE, {"membership": "join"}, 2)
POWER = _event("m.room.power_levels", "", {"users": {ALICE: 100}}, 3)
JOIN_RULES = _event("m.room.join_rules", "", {"join_rule": "knock"}, 4)
NAME = _event("m.room.name", "", {"name": "Knock knock"}, 5)
TOPIC = _event("m.room.topic", "", {"topic": "who's there"}, 6)
ENCRYPTION = _event("m.room.encryption", "", {"algorithm": "m.megolm.v1.aes-sha2"}, 7)
ODD_NAME = _event("m.room.name", "odd", {"name": "not the room name"}, 8)
PARENT_B = _event("m.space.parent", "!b:example.com", {"via": ["example.com"]}, 9)
PARENT_A = _event("m.space.parent", "!a:example.com", {"via": ["example.com"]}, 10)


def test_default_types_follow_the_spec() -> None:
    assert DEFAULT_STRIPPED_STATE_TYPES == (
        "m.room.create",
        "m.room.name",
        "m.room.avatar",
        "m.room.topic",
        "m.room.join_rules",
        "m.room.canonical_alias",
        "m.room.encryption",
    )


def test_strip_event_keeps_exactly_four_keys() -> None:
    stripped = strip_event(NAME)
    assert stripped == {
        "type": "m.room.name",
        "state_key": "",
        "sender": ALICE,
        "content": {"name": "Knock knock"},
    }
    stripped["content"]["name"] = "changed"
    assert NAME.content["name"] == "Knock knock"  # a copy, not the PDU's own dict


def test_selection_and_order_with_create_first() -> None:
    # Insertion order of the state map must not matter.
    state = _state(ENCRYPTION, TOPIC, ODD_NAME, MEMBER, POWER, NAME, JOIN_RULES, CREATE)
    assert [e.event_id for e in stripped_state_events(state)] == [
        CREATE.event_id,
        NAME.event_id,
        TOPIC.event_id,
        JOIN_RULES.event_id,
        ENCRYPTION.event_id,
    ]
    assert [s["type"] for s in stripped_state(state)] == [
        "m.room.create",
        "m.room.name",
        "m.room.topic",
        "m.room.join_rules",
        "m.room.encryption",
    ]
    assert all(set(s) == {"type", "state_key", "sender", "content"} for s in stripped_state(state))


def test_create_is_included_when_nothing_else_is() -> None:
    assert stripped_state(_state(CREATE, MEMBER, POWER)) == [strip_event(CREATE)]
    assert stripped_state({}) == []


def test_extra_types_take_every_state_key_sorted_once() -> None:
    state = _state(CREATE, NAME, MEMBER, PARENT_B, PARENT_A)
    extra = ["m.space.parent", "m.room.member", "m.space.parent", "m.room.name"]
    assert [e.event_id for e in stripped_state_events(state, extra)] == [
        CREATE.event_id,
        NAME.event_id,
        PARENT_A.event_id,
        PARENT_B.event_id,
        MEMBER.event_id,
    ]


def test_full_events_are_the_pdus_untouched() -> None:
    events = stripped_state_events(_state(CREATE, JOIN_RULES))
    assert events == [CREATE, JOIN_RULES]
    assert events[0].pdu is CREATE.pdu
