"""PDU validation and building (server-server API "PDUs"; definitions pdu_v1..pdu_v12;
client-server API "Size limits")."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from signedjson.key import decode_signing_key_base64, get_verify_key

from transom.core.errors import InvalidEvent
from transom.core.events import Event
from transom.core.hashing import check_content_hash, compute_reference_hash
from transom.core.pdu import build_event, parse_pdu
from transom.core.room_versions import (
    KNOWN_ROOM_VERSIONS,
    V1,
    V3,
    V5,
    V6,
    V10,
    V11,
    V12,
    RoomVersion,
)
from transom.core.signing import verify_event_signatures

KEY = json.loads((Path(__file__).parent / "vectors" / "signing_key.json").read_text())
SIGNING_KEY = decode_signing_key_base64("ed25519", "1", KEY["seed"])
KEYS = {"domain": {"ed25519:1": get_verify_key(SIGNING_KEY)}}
ALL = list(KNOWN_ROOM_VERSIONS.values())


def _build(room_version: RoomVersion, **overrides: Any) -> Event:
    args: dict[str, Any] = {
        "room_version": room_version,
        "room_id": "!room:domain",
        "sender": "@alice:domain",
        "event_type": "m.room.message",
        "content": {"body": "hi"},
        "prev_events": [],
        "auth_events": [],
        "depth": 1,
        "origin_server_ts": 1000,
        "origin": "domain",
        "signing_key": SIGNING_KEY,
        "event_id_v1": "$ev1:domain",
    }
    args.update(overrides)
    return build_event(**args)


def _create(room_version: RoomVersion) -> Event:
    return _build(
        room_version,
        event_type="m.room.create",
        state_key="",
        content={"room_version": room_version.identifier},
        event_id_v1="$create:domain",
    )


@pytest.mark.parametrize("room_version", ALL, ids=lambda v: f"v{v.identifier}")
def test_build_then_parse_every_version(room_version: RoomVersion) -> None:
    create = _create(room_version)
    room_id = create.room_id
    message = _build(
        room_version, room_id=room_id, prev_events=[create], auth_events=[create], depth=2
    )
    for event in (create, message):
        assert check_content_hash(event.pdu)
        verify_event_signatures(event.pdu, room_version, KEYS)
        again = parse_pdu(copy.deepcopy(event.pdu), room_version)
        assert again.event_id == event.event_id
    assert message.prev_event_ids == [create.event_id]
    assert message.auth_event_ids == [create.event_id]
    if room_version.room_id_is_create_hash:
        # v12: the create event has no room_id; the room ID is `!` + its event ID's hash.
        assert "room_id" not in create.pdu
        assert room_id == "!" + create.event_id[1:]
    else:
        assert create.pdu["room_id"] == "!room:domain"
    # Before v11 an `origin` key names the sending server; v11 drops it.
    assert ("origin" in message.pdu) is (room_version.identifier not in ("11", "12"))


def test_v1_format_references_and_event_id() -> None:
    create = _create(V1)
    message = _build(V1, prev_events=[create], auth_events=[create], event_id_v1="$m:domain")
    assert create.event_id == "$create:domain" and message.event_id == "$m:domain"
    ref = message.pdu["prev_events"][0]
    assert ref[0] == "$create:domain"
    from unpaddedbase64 import decode_base64

    assert decode_base64(ref[1]["sha256"]) == compute_reference_hash(create.pdu, V1)
    with pytest.raises(InvalidEvent, match="server-assigned"):
        _build(V1, event_id_v1=None)


def test_v3_plus_event_ids_are_reference_hashes() -> None:
    event = _build(V3)
    assert "event_id" not in event.pdu
    assert event.event_id.startswith("$") and len(event.event_id) == 44


def test_redacts_placement() -> None:
    old = _build(V10, event_type="m.room.redaction", content={}, redacts="$target")
    assert old.pdu["redacts"] == "$target" and "redacts" not in old.pdu["content"]
    assert old.redacts == "$target"
    new = _build(V11, event_type="m.room.redaction", content={"reason": "x"}, redacts="$target")
    # v11 "Moving the redacts property ... to a content property".
    assert new.pdu["content"] == {"reason": "x", "redacts": "$target"}
    assert "redacts" not in new.pdu and new.redacts == "$target"


def test_build_needs_room_id_except_v12_create() -> None:
    with pytest.raises(InvalidEvent, match="room_id is required"):
        _build(V12, room_id=None)
    with pytest.raises(InvalidEvent, match="room_id is required"):
        _build(V11, room_id=None, event_type="m.room.create", state_key="")


def test_build_rejects_oversized_content() -> None:
    with pytest.raises(InvalidEvent, match="65536"):
        _build(V10, content={"body": "x" * 65536})


def _valid(room_version: RoomVersion) -> dict[str, Any]:
    return copy.deepcopy(_build(room_version).pdu)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p.pop("type"), "missing required key 'type'"),
        (lambda p: p.pop("sender"), "'sender'"),
        (lambda p: p.pop("content"), "'content'"),
        (lambda p: p.pop("depth"), "'depth'"),
        (lambda p: p.pop("hashes"), "'hashes'"),
        (lambda p: p.pop("signatures"), "'signatures'"),
        (lambda p: p.pop("origin_server_ts"), "'origin_server_ts'"),
        (lambda p: p.pop("room_id"), "'room_id'"),
        (lambda p: p.pop("prev_events"), "'prev_events'"),
        (lambda p: p.pop("auth_events"), "'auth_events'"),
        (lambda p: p.update(type=5), "'type' must be of JSON type string"),
        (lambda p: p.update(content=[]), "'content' must be of JSON type object"),
        (lambda p: p.update(depth="1"), "'depth' must be of JSON type integer"),
        (lambda p: p.update(depth=True), "'depth' must be of JSON type integer"),
        (lambda p: p.update(depth=-1), "depth must be between"),
        (lambda p: p.update(origin_server_ts=1.5), "origin_server_ts"),
        (lambda p: p.update(state_key=None), "'state_key'"),
        (lambda p: p.update(unsigned=[]), "'unsigned'"),
        (lambda p: p.update(redacts=1), "'redacts'"),
        (lambda p: p.update(hashes={}), "hashes.sha256"),
        (lambda p: p.update(signatures={"x": "y"}), "signatures of 'x'"),
        (lambda p: p.update(signatures={"x": {"k": 1}}), "signatures of 'x'"),
        (lambda p: p.update(prev_events="$a"), "'prev_events' must be of JSON type array"),
        (lambda p: p.update(prev_events=[["$a", {}]]), "event ID strings"),
        (lambda p: p.update(auth_events=["$a"] * 11), "more than 10"),
        (lambda p: p.update(prev_events=["$a"] * 21), "more than 20"),
        (lambda p: p.update(type="t" * 256), "type is longer than 255"),
        (lambda p: p.update(state_key="s" * 256), "state_key is longer than 255"),
        (lambda p: p.update(sender="@" + "a" * 250 + ":domain"), "sender"),
        (lambda p: p.update(sender="alice"), "sender"),
        (lambda p: p.update(room_id="room"), "room_id"),
        (lambda p: p.update(room_id="!" + "r" * 255 + ":d"), "room_id is longer"),
        (lambda p: p.update(content={"x": 1.5}), "canonical JSON"),
        (lambda p: p.update(content={"x": 2**53}), "canonical JSON"),
        (lambda p: p.update(depth=2**53), "canonical JSON"),
        (lambda p: p.update(content={"x": "y" * 65536}), "65536-byte limit"),
    ],
)
def test_parse_rejects_invalid_v10(mutate: Any, message: str) -> None:
    pdu = _valid(V10)
    mutate(pdu)
    with pytest.raises(InvalidEvent, match=message):
        parse_pdu(pdu, V10)


def test_parse_rejects_non_object() -> None:
    with pytest.raises(InvalidEvent, match="JSON object"):
        parse_pdu([], V10)  # type: ignore[arg-type]


def test_pre_v6_tolerates_floats_and_big_integers() -> None:
    pdu = _valid(V5)
    pdu["content"] = {"x": 1.5, "y": 2**60}
    pdu["depth"] = 2**60
    assert parse_pdu(pdu, V5).depth == 2**60
    pdu["depth"] = 2**63
    with pytest.raises(InvalidEvent, match="depth"):
        parse_pdu(pdu, V5)
    pdu["depth"] = 1
    pdu["content"] = {"x": float("nan")}
    with pytest.raises(InvalidEvent, match="cannot be encoded"):
        parse_pdu(pdu, V5)


def test_v1_shapes() -> None:
    pdu = _valid(V1)
    parse_pdu(pdu, V1)
    for bad in (
        ["$a"],
        [["$a"]],
        [["$a", "hash"]],
        [["$a", {"sha1": "x"}]],
        [[1, {"sha256": "x"}]],
    ):
        broken = {**pdu, "prev_events": bad}
        with pytest.raises(InvalidEvent, match="event_id"):
            parse_pdu(broken, V1)
    with pytest.raises(InvalidEvent, match="'event_id'"):
        parse_pdu({k: v for k, v in pdu.items() if k != "event_id"}, V1)
    with pytest.raises(InvalidEvent, match="event_id is longer"):
        parse_pdu({**pdu, "event_id": "$" + "e" * 255 + ":domain"}, V1)


def test_v11_ignores_top_level_redacts_type_and_v12_create_room_id() -> None:
    pdu = _valid(V11)
    pdu["redacts"] = 5  # not part of the v11 format; left for the auth rules to ignore
    parse_pdu(pdu, V11)
    create = copy.deepcopy(_create(V12).pdu)
    assert "room_id" not in create
    parse_pdu(create, V12)
    # A non-create v12 event must have a room_id; a v6 create must too.
    message = _valid(V12)
    del message["room_id"]
    with pytest.raises(InvalidEvent, match="room_id"):
        parse_pdu(message, V12)
    v6_create = copy.deepcopy(_create(V6).pdu)
    del v6_create["room_id"]
    with pytest.raises(InvalidEvent, match="room_id"):
        parse_pdu(v6_create, V6)
