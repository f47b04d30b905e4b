"""Filter parsing and event matching (client-server API "Filtering")."""

from __future__ import annotations

from typing import Any

import pytest

from transom.services.errors import BadJson
from transom.services.filtering import DEFAULT_TIMELINE_LIMIT, MAX_LIMIT, parse_filter


def event(event_type: str = "m.room.message", sender: str = "@a:x", room: str = "!r:x",
          **content: Any) -> dict[str, Any]:  # fmt: skip
    return {"type": event_type, "sender": sender, "room_id": room, "content": content}


def test_defaults() -> None:
    f = parse_filter({})
    assert f.limit == DEFAULT_TIMELINE_LIMIT
    assert not f.include_leave and not f.lazy_load_members and not f.include_redundant_members
    assert f.rooms is None and f.not_rooms == ()
    assert f.room.timeline.matches(event())
    assert f.room.allows_room("!any:x")


def test_types_with_globs_and_not_types() -> None:
    f = parse_filter({"room": {"timeline": {"types": ["m.room.*", "org.example"],
                                            "not_types": ["m.room.member"]}}})  # fmt: skip
    timeline = f.room.timeline
    assert timeline.matches(event("m.room.message"))
    assert timeline.matches(event("org.example"))
    assert not timeline.matches(event("org.example.other"))
    assert not timeline.matches(event("m.room.member"))  # not_types wins
    assert not timeline.matches(event("m.reaction"))


def test_empty_types_match_nothing() -> None:
    f = parse_filter({"room": {"ephemeral": {"types": []}}})
    assert not f.room.ephemeral.matches(event("m.typing"))
    assert f.room.ephemeral.matches_nothing


def test_senders_and_rooms() -> None:
    f = parse_filter({"room": {"rooms": ["!a:x", "!b:x"], "not_rooms": ["!b:x"],
                               "timeline": {"senders": ["@a:x"], "not_senders": ["@b:x"],
                                            "not_rooms": ["!c:x"]}}})  # fmt: skip
    assert f.room.allows_room("!a:x")
    assert not f.room.allows_room("!b:x")  # not_rooms applies first
    assert not f.room.allows_room("!z:x")
    timeline = f.room.timeline
    assert timeline.matches(event(sender="@a:x"))
    assert not timeline.matches(event(sender="@c:x"))
    assert not timeline.matches(event(sender="@a:x", room="!c:x"))


def test_contains_url() -> None:
    with_url = parse_filter({"room": {"timeline": {"contains_url": True}}}).room.timeline
    assert with_url.matches(event(url="mxc://x/y"))
    assert not with_url.matches(event(body="no url"))
    without = parse_filter({"room": {"timeline": {"contains_url": False}}}).room.timeline
    assert without.matches(event(body="no url"))


def test_limits_and_flags() -> None:
    f = parse_filter({"room": {"timeline": {"limit": 10_000}, "include_leave": True,
                               "state": {"lazy_load_members": True,
                                         "include_redundant_members": True}}})  # fmt: skip
    assert f.limit == MAX_LIMIT
    assert f.include_leave and f.lazy_load_members and f.include_redundant_members


def test_matches_event_objects() -> None:
    from transom.core.events import Event
    from transom.core.room_versions import KNOWN_ROOM_VERSIONS

    pdu = {"type": "m.room.message", "sender": "@a:x", "room_id": "!r:x", "content": {},
           "prev_events": [], "auth_events": [], "depth": 1, "origin_server_ts": 0}  # fmt: skip
    ev = Event(pdu, KNOWN_ROOM_VERSIONS["10"], "$e")
    assert parse_filter({"room": {"timeline": {"senders": ["@a:x"]}}}).room.timeline.matches(ev)
    assert not parse_filter({"account_data": {"types": ["x"]}}).account_data.matches(ev)


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"room": []},
        {"room": {"timeline": {"limit": 0}}},
        {"room": {"timeline": {"limit": "5"}}},
        {"room": {"timeline": {"limit": True}}},
        {"room": {"rooms": "!a:x"}},
        {"room": {"include_leave": "yes"}},
        {"room": {"state": {"lazy_load_members": 1}}},
        {"presence": {"senders": [1]}},
        {"event_format": "xml"},
        {"room": {"timeline": {"contains_url": "true"}}},
    ],
)
def test_malformed_filters(bad: Any) -> None:
    with pytest.raises(BadJson):
        parse_filter(bad)
