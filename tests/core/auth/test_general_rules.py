"""The general authorization rules (spec: room versions' "Authorization rules": create (rule 1),
v12 rule 2, m.federate, v1–v5 aliases, sender joined, third-party invite events, required power
level, `@` state keys, v1–v2 redactions)."""

from __future__ import annotations

from typing import Any

import pytest

from transom.core.auth import check_auth
from transom.core.auth.numbering import rule_number
from transom.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion, get_room_version

from .auth_helpers import CREATOR, LOW, MOD, SERVER, Room, default_power_levels, make_event

ALL = list(KNOWN_ROOM_VERSIONS.values())


def rule(rv: RoomVersion, *path: str | int) -> str:
    return rule_number(rv, *path)


def room(version: str, **kwargs: Any) -> Room:
    rv = get_room_version(version)
    kwargs.setdefault("members", {CREATOR: "join", MOD: "join", LOW: "join"})
    kwargs.setdefault("power_levels", default_power_levels(rv))
    return Room(rv, **kwargs)


def create(rv: RoomVersion, content: Any, **kwargs: Any) -> Any:
    room_id = None if rv.room_id_is_create_hash else f"!r:{SERVER}"
    kwargs.setdefault("prev", [])
    return make_event(rv, room_id, "m.room.create", CREATOR, content, "", **kwargs)


# ---- rule 1: m.room.create --------------------------------------------------------------------


@pytest.mark.parametrize("rv", ALL, ids=lambda rv: f"v{rv.identifier}")
def test_create_rules(rv: RoomVersion) -> None:
    base: dict[str, Any] = {"room_version": rv.identifier}
    if not rv.implicit_room_creator:
        base["creator"] = CREATOR
    assert check_auth(create(rv, base), {}) is None
    with_prev = create(rv, base, prev=["$p:example.org"])
    assert check_auth(with_prev, {}) == _failure(rv, ("create", "prev_events"))
    bad_version = create(rv, {**base, "room_version": "99"})
    assert _rule_of(check_auth(bad_version, {})) == rule(rv, "create", "room_version")
    no_creator = create(rv, {"room_version": rv.identifier})
    if rv.implicit_room_creator:
        assert check_auth(no_creator, {}) is None  # v11+: creator not needed
    else:
        assert _rule_of(check_auth(no_creator, {})) == rule(rv, "create", "creator")


def _rule_of(failure: Any) -> str | None:
    return None if failure is None else failure.rule


def _failure(rv: RoomVersion, path: tuple[str | int, ...]) -> Any:
    class Matches:
        def __eq__(self, other: object) -> bool:
            return getattr(other, "rule", None) == rule(rv, *path)

    return Matches()


def test_create_room_id_domain_v1_to_v11() -> None:
    for version in map(str, range(1, 12)):
        rv = get_room_version(version)
        content = {"creator": CREATOR}
        event = make_event(rv, "!r:elsewhere.org", "m.room.create", CREATOR, content, "", prev=[])
        assert _rule_of(check_auth(event, {})) == rule(rv, "create", "room_id")


def test_create_v12_room_id_and_additional_creators() -> None:
    rv = get_room_version("12")
    with_room_id = make_event(rv, "!x", "m.room.create", CREATOR, {}, "", prev=[])
    assert _rule_of(check_auth(with_room_id, {})) == "1.2"
    for bad in ("@a:b", ["nope"], ["@a:b", 5], [""], ["@a"], ["@a:"]):
        event = create(rv, {"additional_creators": bad})
        assert _rule_of(check_auth(event, {})) == "1.4", bad
    assert (
        check_auth(create(rv, {"additional_creators": ["@a:b", "@Hist\u00f6rical:c"]}), {}) is None
    )


# ---- rule 2 (v12) / 2.4-2.5 (v1-v11): the room's create event -------------------------------


def test_v12_room_id_must_be_create_event_id() -> None:
    r = room("12")
    ok = r.event("m.room.message", MOD, {"body": "hi"})
    assert check_auth(ok, r.state) is None
    other = make_event(r.rv, "!other", "m.room.message", MOD, {})
    assert _rule_of(check_auth(other, r.state)) == "2"
    state = {k: v for k, v in r.state.items() if k != ("m.room.create", "")}
    assert _rule_of(check_auth(ok, state)) == "2"


def test_v1_to_v11_need_the_create_event_of_the_room() -> None:
    for version in map(str, range(1, 12)):
        r = room(version)
        event = r.event("m.room.message", MOD, {})
        state = {k: v for k, v in r.state.items() if k != ("m.room.create", "")}
        assert _rule_of(check_auth(event, state)) == rule(r.rv, "auth_events", "has_create")
        other = make_event(r.rv, "!other:example.org", "m.room.message", MOD, {})
        assert _rule_of(check_auth(other, r.state)) == rule(r.rv, "auth_events", "room_id")


# ---- m.federate -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "6", "11", "12"])
def test_federate_false(version: str) -> None:
    r = room(version, create_extra={"m.federate": False}, join_rule="public")
    remote_join = r.member("@bob:remote.org", "@bob:remote.org", "join")
    assert _rule_of(check_auth(remote_join, r.state)) == rule(r.rv, "federate")
    local_join = r.member("@bob:example.org", "@bob:example.org", "join")
    assert check_auth(local_join, r.state) is None
    r2 = room(version, create_extra={"m.federate": True}, join_rule="public")
    assert check_auth(r2.member("@bob:remote.org", "@bob:remote.org", "join"), r2.state) is None


# ---- v1-v5 rule 4: m.room.aliases -------------------------------------------------------------


def test_aliases_special_case_v1_to_v5_only() -> None:
    for version in map(str, range(1, 13)):
        r = room(version)
        outsider = "@x:remote.org"  # not a member of the room
        match = r.event("m.room.aliases", outsider, {"aliases": []}, "remote.org")
        mismatch = r.event("m.room.aliases", outsider, {"aliases": []}, "example.org")
        if r.rv.special_case_aliases_auth:
            assert check_auth(match, r.state) is None
            assert _rule_of(check_auth(mismatch, r.state)) == rule(r.rv, "aliases", 2)
            no_key = r.event("m.room.aliases", outsider, {"aliases": []})
            assert _rule_of(check_auth(no_key, r.state)) == rule(r.rv, "aliases", 1)
        else:
            assert _rule_of(check_auth(match, r.state)) == rule(r.rv, "sender_joined")


# ---- sender joined, third-party invite events, required level, @ state keys -----------------


@pytest.mark.parametrize("version", ["1", "3", "6", "10", "12"])
def test_general_event_rules(version: str) -> None:
    r = room(version, power_levels=None)
    rv = r.rv
    r.add("m.room.power_levels", CREATOR, default_power_levels(rv, events={"m.room.topic": 0}), "")
    msg = r.event("m.room.message", LOW, {"body": "x"})
    assert check_auth(msg, r.state) is None
    outsider = r.event("m.room.message", "@x:example.org", {"body": "x"})
    assert _rule_of(check_auth(outsider, r.state)) == rule(rv, "sender_joined")
    # m.room.third_party_invite needs the invite level (50).
    tpi = r.event("m.room.third_party_invite", LOW, {"display_name": "x"}, "tok")
    assert _rule_of(check_auth(tpi, r.state)) == rule(rv, "third_party_invite", 1)
    assert check_auth(r.event("m.room.third_party_invite", MOD, {}, "tok"), r.state) is None
    # state_default 50, with m.room.topic lowered to 0 by `events`.
    name = r.event("m.room.name", LOW, {"name": "n"}, "")
    assert _rule_of(check_auth(name, r.state)) == rule(rv, "required_level")
    assert check_auth(r.event("m.room.name", MOD, {"name": "n"}, ""), r.state) is None
    assert check_auth(r.event("m.room.topic", LOW, {"topic": "t"}, ""), r.state) is None
    # a state_key naming another user.
    other = r.event("m.custom", MOD, {}, LOW)
    assert _rule_of(check_auth(other, r.state)) == rule(rv, "user_state_key")
    assert check_auth(r.event("m.custom", MOD, {}, MOD), r.state) is None
    assert check_auth(r.event("m.custom", MOD, {}, "@"), r.state) == _failure(
        rv, ("user_state_key",)
    )


def test_events_default_applies_to_messages() -> None:
    r = room("11", power_levels=None)
    r.add("m.room.power_levels", CREATOR, default_power_levels(r.rv, events_default=10), "")
    msg = r.event("m.room.message", LOW, {})
    assert _rule_of(check_auth(msg, r.state)) == "7"
    assert check_auth(r.event("m.room.message", MOD, {}), r.state) is None


def test_no_power_levels_event_defaults() -> None:
    r = room("9", power_levels=None)
    # Without power levels the creator is at 100, others at 0; state_default is 50.
    assert check_auth(r.event("m.room.name", CREATOR, {}, ""), r.state) is None
    assert _rule_of(check_auth(r.event("m.room.name", MOD, {}, ""), r.state)) == "7"
    assert check_auth(r.event("m.room.message", MOD, {}), r.state) is None


def test_non_object_content_is_a_failure() -> None:
    r = room("12")
    for content in ([], "x", None, 3):
        assert _rule_of(check_auth(r.event("m.room.message", MOD, content), r.state)) == "format"
        member = r.event("m.room.member", MOD, content, MOD)
        assert _rule_of(check_auth(member, r.state)) == "format"


# ---- v1-v2 rule 11: redactions ----------------------------------------------------------------


def test_redaction_rule_v1_v2_only() -> None:
    for version in ("1", "2", "3", "6", "11"):
        r = room(version)
        same_domain = r.event(
            "m.room.redaction", LOW, {}, redacts="$target:example.org", event_id="$r:example.org"
        )
        other_domain = r.event(
            "m.room.redaction", LOW, {}, redacts="$target:elsewhere.org", event_id="$r:example.org"
        )
        by_mod = r.event("m.room.redaction", MOD, {}, redacts="$target:elsewhere.org")
        assert check_auth(same_domain, r.state) is None
        assert check_auth(by_mod, r.state) is None
        if version in ("1", "2"):
            assert _rule_of(check_auth(other_domain, r.state)) == "11.3"
        else:
            # v3+: the redact level is not considered by the auth rules.
            assert check_auth(other_domain, r.state) is None


# ---- membership details not in the knock table -----------------------------------------------


@pytest.mark.parametrize("version", ["1", "6", "10", "11", "12"])
def test_first_join_of_the_creator(version: str) -> None:
    rv = get_room_version(version)
    r = Room(rv, join_rule=None, members={}, power_levels=None)
    join = r.member(CREATOR, CREATOR, "join", prev=[r.create.event_id])
    assert check_auth(join, r.state) is None
    later = r.member(CREATOR, CREATOR, "join", prev=["$other:example.org"])
    assert _rule_of(check_auth(later, r.state)) == rule(rv, "member", "join", "otherwise")
    someone = r.member(MOD, MOD, "join", prev=[r.create.event_id])
    assert _rule_of(check_auth(someone, r.state)) == rule(rv, "member", "join", "otherwise")


def test_member_event_fields_and_unknown_membership() -> None:
    r = room("12", join_rule="public")
    no_key = r.event("m.room.member", MOD, {"membership": "join"})
    assert _rule_of(check_auth(no_key, r.state)) == "5.1"
    no_membership = r.event("m.room.member", MOD, {}, MOD)
    assert _rule_of(check_auth(no_membership, r.state)) == "5.1"
    assert _rule_of(check_auth(r.member(MOD, MOD, "dance"), r.state)) == "5.8"
    assert _rule_of(check_auth(r.member(MOD, MOD, 5), r.state)) == "5.8"


def test_invite_target_joined_or_banned() -> None:
    r = room("10", join_rule="invite", members={CREATOR: "join", MOD: "join", LOW: "ban"})
    assert _rule_of(check_auth(r.member(MOD, LOW, "invite"), r.state)) == "4.4.3"
    assert _rule_of(check_auth(r.member(MOD, CREATOR, "invite"), r.state)) == "4.4.3"


def test_unban_needs_ban_and_kick_levels() -> None:
    r = room("11", members={CREATOR: "join", MOD: "join", LOW: "ban"})
    r.add("m.room.power_levels", CREATOR, default_power_levels(r.rv, ban=60), "")
    assert _rule_of(check_auth(r.member(MOD, LOW, "leave"), r.state)) == "4.5.3"
    assert check_auth(r.member(CREATOR, LOW, "leave"), r.state) is None
