"""Auth events selection (server-server API) and the rules on an event's own auth_events (v1–v11
rule 2, v12 rule 3); third-party invites (v12 rule 5.4.1)."""

from __future__ import annotations

from typing import Any

from signedjson.key import generate_signing_key, get_verify_key
from signedjson.sign import sign_json
from unpaddedbase64 import encode_base64

from transom.core.auth import auth_types_for_event, check_auth, check_cited_auth_events
from transom.core.room_versions import get_room_version

from .auth_helpers import ALICE, CREATOR, LOW, MOD, Room, default_power_levels

V7, V11, V12 = (get_room_version(v) for v in ("7", "11", "12"))
CREATE, PL, JR = ("m.room.create", ""), ("m.room.power_levels", ""), ("m.room.join_rules", "")


def test_selection() -> None:
    assert auth_types_for_event(V11, "m.room.create", "", CREATOR, {}) == []
    assert auth_types_for_event(V11, "m.room.message", None, MOD, {}) == [
        CREATE,
        PL,
        ("m.room.member", MOD),
    ]
    assert auth_types_for_event(V12, "m.room.message", None, MOD, {}) == [
        PL,
        ("m.room.member", MOD),
    ]
    knock = auth_types_for_event(V12, "m.room.member", ALICE, ALICE, {"membership": "knock"})
    assert knock == [PL, ("m.room.member", ALICE), JR]
    kick = auth_types_for_event(V11, "m.room.member", ALICE, MOD, {"membership": "leave"})
    assert kick == [CREATE, PL, ("m.room.member", MOD), ("m.room.member", ALICE)]
    tpi = {"membership": "invite", "third_party_invite": {"signed": {"token": "t"}}}
    assert ("m.room.third_party_invite", "t") in auth_types_for_event(
        V11, "m.room.member", ALICE, MOD, tpi
    )
    restricted = {"membership": "join", "join_authorised_via_users_server": MOD}
    v11_join = auth_types_for_event(V11, "m.room.member", ALICE, ALICE, restricted)
    assert v11_join == [CREATE, PL, ("m.room.member", ALICE), JR, ("m.room.member", MOD)]
    v7_join = auth_types_for_event(V7, "m.room.member", ALICE, ALICE, restricted)
    assert ("m.room.member", MOD) not in v7_join


def _room(rv: Any) -> Room:
    return Room(
        rv,
        join_rule="knock",
        members={CREATOR: "join", MOD: "join"},
        power_levels=default_power_levels(rv),
    )


def test_cited_auth_events_v11() -> None:
    r = _room(V11)
    knock = r.member(ALICE, ALICE, "knock")
    good = [r.state[CREATE], r.state[PL], r.state[JR]]
    assert check_cited_auth_events(knock, good) is None
    assert check_cited_auth_events(knock, [*good, r.state[PL]]).rule == "2.1"  # type: ignore[union-attr]
    extra = [*good, r.state[("m.room.member", MOD)]]
    assert check_cited_auth_events(knock, extra).rule == "2.2"  # type: ignore[union-attr]
    rejected = check_cited_auth_events(knock, good, rejected_ids={r.state[JR].event_id})
    assert rejected is not None and rejected.rule == "2.3"
    assert check_cited_auth_events(knock, good[1:]).rule == "2.4"  # type: ignore[union-attr]
    foreign = Room(V11, join_rule="knock")
    foreign_jr = foreign.state[JR]
    foreign_jr.pdu["room_id"] = "!elsewhere:example.org"
    mixed = [r.state[CREATE], r.state[PL], foreign_jr]
    assert check_cited_auth_events(knock, mixed).rule == "2.5"  # type: ignore[union-attr]
    assert check_cited_auth_events(r.create, []) is None


def test_cited_auth_events_v12_must_not_cite_create() -> None:
    r = _room(V12)
    knock = r.member(ALICE, ALICE, "knock")
    assert check_cited_auth_events(knock, [r.state[PL], r.state[JR]]) is None
    with_create = [r.state[CREATE], r.state[PL], r.state[JR]]
    assert check_cited_auth_events(knock, with_create).rule == "3.2"  # type: ignore[union-attr]
    msg = r.event("m.room.message", MOD, {})
    assert check_cited_auth_events(msg, [msg]).rule == "3.2"  # type: ignore[union-attr]


def _tpi_room() -> tuple[Room, Any, str]:
    key = generate_signing_key("1")
    public = encode_base64(get_verify_key(key).encode())
    r = Room(
        V11,
        members={CREATOR: "join", MOD: "join", LOW: "join"},
        power_levels=default_power_levels(V11),
    )
    r.add("m.room.third_party_invite", MOD, {"public_keys": [{"public_key": public}]}, "tok")
    return r, key, public


def _signed(key: Any, mxid: str = ALICE, token: str = "tok") -> dict[str, Any]:
    return sign_json({"mxid": mxid, "token": token, "sender": MOD}, "id.example.org", key)


def test_third_party_invite() -> None:
    r, key, _ = _tpi_room()

    def invite(sender: str, target: str, tpi: Any) -> str | None:
        event = r.member(sender, target, "invite", content={"third_party_invite": tpi})
        failure = check_auth(event, r.state)
        return None if failure is None else failure.rule

    assert invite(MOD, ALICE, {"display_name": "a", "signed": _signed(key)}) is None
    assert invite(MOD, ALICE, {"signed": _signed(generate_signing_key("2"))}) == "4.4.1.8"
    assert invite(MOD, ALICE, {"display_name": "a"}) == "4.4.1.2"
    assert invite(MOD, ALICE, "nope") == "4.4.1.2"
    assert invite(MOD, ALICE, {"signed": {"mxid": ALICE}}) == "4.4.1.3"
    assert invite(MOD, ALICE, {"signed": _signed(key, mxid=LOW)}) == "4.4.1.4"
    assert invite(MOD, ALICE, {"signed": _signed(key, token="other")}) == "4.4.1.5"
    assert invite(CREATOR, ALICE, {"signed": _signed(key)}) == "4.4.1.6"
    r.set_member(ALICE, "ban")
    assert invite(MOD, ALICE, {"signed": _signed(key)}) == "4.4.1.1"


def test_third_party_invite_single_public_key_and_bad_keys() -> None:
    r, key, public = _tpi_room()
    r.add("m.room.third_party_invite", MOD, {"public_key": public, "public_keys": ["x", {}]}, "tok")
    event = r.member(MOD, ALICE, "invite", content={"third_party_invite": {"signed": _signed(key)}})
    assert check_auth(event, r.state) is None
    r.add("m.room.third_party_invite", MOD, {"public_key": "!!notbase64"}, "tok")
    assert check_auth(event, r.state).rule == "4.4.1.8"  # type: ignore[union-attr]
    r.add("m.room.third_party_invite", MOD, {"public_key": "AAAA"}, "tok")  # wrong length
    assert check_auth(event, r.state).rule == "4.4.1.8"  # type: ignore[union-attr]
    odd = dict(_signed(key))
    odd["signatures"] = {"id.example.org": {"curve25519:1": "x"}, "other": "x"}
    bad = r.member(MOD, ALICE, "invite", content={"third_party_invite": {"signed": odd}})
    assert check_auth(bad, r.state).rule == "4.4.1.8"  # type: ignore[union-attr]
