"""Power levels: reading them (stringy v1–v9, floaty v1–v5, v12 creators) and the rules on
``m.room.power_levels`` events (v1–v5 rule 10, v6–v11 rule 9, v12 rule 10)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from transom.core.auth import (
    can_do,
    check_auth,
    get_event_level,
    get_required_level,
    get_user_power_level,
    room_creators,
)
from transom.core.room_versions import get_room_version

from .auth_helpers import CREATOR, LOW, MOD, Room, default_power_levels


def room(version: str, power_levels: dict[str, Any] | None = None, **kwargs: Any) -> Room:
    rv = get_room_version(version)
    return Room(
        rv,
        members={CREATOR: "join", MOD: "join", LOW: "join"},
        power_levels=power_levels if power_levels is not None else default_power_levels(rv),
        **kwargs,
    )


def pl_event(r: Room, sender: str, **overrides: Any) -> Any:
    return r.event("m.room.power_levels", sender, default_power_levels(r.rv, **overrides), "")


def rule_of(failure: Any) -> str | None:
    return None if failure is None else failure.rule


# ---- reading ----------------------------------------------------------------------------------


def test_stringy_levels_v1_to_v9_only() -> None:
    for version in map(str, range(1, 13)):
        r = room(version, {"users": {MOD: " +075 "}, "ban": "60", "events": {"m.x": "5"}})
        expected = 0 if r.rv.integer_power_levels else 75
        assert get_user_power_level(MOD, r.state) == expected
        assert get_required_level(r.state, "ban") == (50 if r.rv.integer_power_levels else 60)
        assert get_event_level(r.state, "m.x", False) == (0 if r.rv.integer_power_levels else 5)


def test_floaty_levels_v1_to_v5_only() -> None:
    for version in map(str, range(1, 13)):
        r = room(version, {"users": {MOD: 50.57, LOW: math.inf}, "kick": 5.114698e4})
        floaty = not r.rv.strict_canonical_json
        assert get_user_power_level(MOD, r.state) == (50 if floaty else 0)
        assert get_user_power_level(LOW, r.state) == 0  # Infinity is never a level
        assert get_required_level(r.state, "kick") == (51146 if floaty else 50)


def test_bad_strings_and_bools_read_as_absent() -> None:
    r = room("9", {"users": {MOD: "5.5", LOW: True}, "users_default": "x1"})
    assert get_user_power_level(MOD, r.state) == 0
    assert get_user_power_level(LOW, r.state) == 0


def test_defaults_without_power_levels() -> None:
    rv = get_room_version("10")
    r = Room(rv, members={CREATOR: "join"})
    assert get_user_power_level(CREATOR, r.state) == 100
    assert get_user_power_level(MOD, r.state) == 0
    levels = {k: get_required_level(r.state, k) for k in ("invite", "kick", "ban", "redact")}
    assert levels == {"invite": 0, "kick": 50, "ban": 50, "redact": 50}
    assert get_event_level(r.state, "m.room.name", True) == 50
    assert get_event_level(r.state, "m.room.message", False) == 0
    assert get_user_power_level(CREATOR, {}) == 0
    with pytest.raises(ValueError):
        get_required_level(r.state, "nonsense")


def test_room_creators_by_version() -> None:
    v10 = Room(get_room_version("10"), create_extra={"creator": "@other:example.org"})
    assert room_creators(v10.state) == {"@other:example.org"}
    v11 = Room(get_room_version("11"), create_extra={"creator": "@other:example.org"})
    assert room_creators(v11.state) == {CREATOR}
    v12 = Room(get_room_version("12"), create_extra={"additional_creators": ["@b:x", 7]})
    assert room_creators(v12.state) == {CREATOR, "@b:x"}
    assert get_user_power_level("@b:x", v12.state) == math.inf
    assert get_user_power_level(CREATOR, v12.state) == math.inf
    assert room_creators({}) == set()


def test_can_do() -> None:
    r = room("12")
    assert can_do(MOD, "kick", r.state)
    assert not can_do(LOW, "kick", r.state)
    assert can_do(CREATOR, "ban", r.state)
    assert can_do(LOW, "m.room.message", r.state)
    assert not can_do(LOW, "m.room.name", r.state, is_state=True)


# ---- rules on m.room.power_levels events ------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "6", "9", "10", "11", "12"])
def test_power_level_changes(version: str) -> None:
    r = room(version)
    n = {  # rule numbers by version family
        "1": ("10.3", "10.4", "10.5", "10.6", "10.7"),
        "6": ("9.3", "9.4", "9.5", "9.6", "9.7"),
        "9": ("9.3", "9.4", "9.5", "9.6", "9.7"),
        "10": ("9.5", "9.6", "9.7", "9.8", "9.9"),
        "11": ("9.5", "9.6", "9.7", "9.8", "9.9"),
        "12": ("10.6", "10.7", "10.8", "10.9", "10.10"),
    }[version]
    named, maps_removed, maps_added, users_removed, users_added = n
    # MOD is at 50. Raising a named level to 50 is fine, to 51 is not; one above 50 can't move.
    assert check_auth(pl_event(r, MOD, kick=40), r.state) is None
    assert rule_of(check_auth(pl_event(r, MOD, kick=51), r.state)) == f"{named}.2"
    r.add("m.room.power_levels", CREATOR, default_power_levels(r.rv, redact=60), "")
    assert rule_of(check_auth(pl_event(r, MOD, redact=50), r.state)) == f"{named}.1"
    r = room(version, default_power_levels(r.rv, events={"m.room.name": 60}))
    assert rule_of(check_auth(pl_event(r, MOD, events={}), r.state)) == f"{maps_removed}.1"
    r = room(version)
    assert rule_of(check_auth(pl_event(r, MOD, events={"m.x": 51}), r.state)) == f"{maps_added}.1"
    assert check_auth(pl_event(r, MOD, events={"m.x": 50}), r.state) is None
    # Changing a user at one's own level, or adding one above it, is not allowed.
    other = "@peer:example.org"
    r = room(version, default_power_levels(r.rv, users={other: 50}))
    assert rule_of(check_auth(pl_event(r, MOD, users={other: 10}), r.state)) == f"{users_removed}.1"
    assert check_auth(pl_event(r, MOD, users={other: 50, LOW: 49}), r.state) is None
    assert (
        rule_of(check_auth(pl_event(r, MOD, users={other: 50, LOW: 51}), r.state))
        == f"{users_added}.1"
    )
    # One's own entry may be lowered.
    assert check_auth(pl_event(r, MOD, users={other: 50, MOD: 10}), r.state) is None


def test_notifications_checked_from_v6() -> None:
    for version in ("5", "6", "12"):
        r = room(version)
        event = pl_event(r, MOD, notifications={"room": 100})
        expected = None if version == "5" else ("9.5.1" if version == "6" else "10.8.1")
        assert rule_of(check_auth(event, r.state)) == expected


def test_first_power_levels_event_is_allowed() -> None:
    rv = get_room_version("11")
    r = Room(rv, members={CREATOR: "join"})
    event = r.event("m.room.power_levels", CREATOR, {"users": {CREATOR: 100, MOD: 1000}}, "")
    assert check_auth(event, r.state) is None


def test_v10_integer_only_values() -> None:
    r = room("10")
    assert rule_of(check_auth(pl_event(r, CREATOR, ban="50"), r.state)) == "9.1"
    assert rule_of(check_auth(pl_event(r, CREATOR, ban=True), r.state)) == "9.1"
    assert rule_of(check_auth(pl_event(r, CREATOR, events={"m.x": "1"}), r.state)) == "9.2"
    assert rule_of(check_auth(pl_event(r, CREATOR, notifications=[]), r.state)) == "9.2"
    assert rule_of(check_auth(pl_event(r, CREATOR, users={LOW: "1"}), r.state)) == "9.3"
    r9 = room("9")
    assert check_auth(pl_event(r9, CREATOR, ban="50", users={LOW: "1"}), r9.state) is None


def test_users_must_be_valid_user_ids_with_levels() -> None:
    for version in ("1", "6", "10"):
        r = room(version)
        users_rule = "10.1" if version == "1" else ("9.1" if version == "6" else "9.3")
        bad_key = pl_event(r, CREATOR, users={"not-a-user": 1})
        assert rule_of(check_auth(bad_key, r.state)) == users_rule
        bad_value = pl_event(r, CREATOR, users={LOW: "lots"})
        assert rule_of(check_auth(bad_value, r.state)) == users_rule
        listed = r.event("m.room.power_levels", CREATOR, {"users": [LOW]}, "")
        assert rule_of(check_auth(listed, r.state)) == users_rule
    r1 = room("1")
    assert check_auth(pl_event(r1, CREATOR, users={LOW: 10.9}), r1.state) is None
    r6 = room("6")
    assert rule_of(check_auth(pl_event(r6, CREATOR, users={LOW: 10.9}), r6.state)) == "9.1"


def test_v12_creators_cannot_be_in_users() -> None:
    r = room("12", create_extra={"additional_creators": ["@co:example.org"]})
    r.set_member("@co:example.org", "join")
    for creator in (CREATOR, "@co:example.org"):
        event = pl_event(r, creator, users={creator: 100})
        assert rule_of(check_auth(event, r.state)) == "10.4"
    # A creator's power is infinite: they may raise anyone and change any level.
    assert (
        check_auth(pl_event(r, "@co:example.org", users={MOD: 10**6}, ban=10**6), r.state) is None
    )
    r11 = room("11")
    assert check_auth(pl_event(r11, CREATOR, users={CREATOR: 100}), r11.state) is None
