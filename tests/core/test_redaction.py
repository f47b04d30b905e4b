"""Redaction algorithm per room version (fragments v1-redactions, v6-redactions, v8's list,
v9-redactions, v11-redactions)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from transom.core.redaction import redact
from transom.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion

ALL = list(KNOWN_ROOM_VERSIONS.values())
PRE_V11 = [v for v in ALL if int(v.identifier) < 11]
V11_PLUS = [v for v in ALL if int(v.identifier) >= 11]


def _ids(versions: list[RoomVersion]) -> list[str]:
    return [f"v{v.identifier}" for v in versions]


def _event(event_type: str, content: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "event_id": "$e:x",
        "type": event_type,
        "room_id": "!r:x",
        "sender": "@u:x",
        "state_key": "",
        "content": content,
        "hashes": {"sha256": "h"},
        "signatures": {"x": {"ed25519:1": "s"}},
        "depth": 1,
        "prev_events": [],
        "auth_events": [],
        "origin_server_ts": 1,
        "unsigned": {"age": 1},
        "prev_state": [],
        "origin": "x",
        "membership": "join",
        "redacts": "$other",
        "extra_top_level": True,
        **extra,
    }


# Expected content kept, per event type, for each version: written out from the spec lists.
POWER_V1 = ["ban", "events", "events_default", "kick", "redact", "state_default", "users",
            "users_default"]  # fmt: skip
EXPECTED_CONTENT: dict[str, dict[str, list[str]]] = {
    "1": {
        "m.room.member": ["membership"],
        "m.room.create": ["creator"],
        "m.room.join_rules": ["join_rule"],
        "m.room.power_levels": POWER_V1,
        "m.room.aliases": ["aliases"],
        "m.room.history_visibility": ["history_visibility"],
        "m.room.redaction": [],
        "m.room.message": [],
    },
}
EXPECTED_CONTENT["6"] = {**EXPECTED_CONTENT["1"], "m.room.aliases": []}
EXPECTED_CONTENT["8"] = {**EXPECTED_CONTENT["6"], "m.room.join_rules": ["join_rule", "allow"]}
EXPECTED_CONTENT["9"] = {
    **EXPECTED_CONTENT["8"],
    "m.room.member": ["membership", "join_authorised_via_users_server"],
}
EXPECTED_CONTENT["11"] = {
    **EXPECTED_CONTENT["9"],
    "m.room.power_levels": [*POWER_V1, "invite"],
    "m.room.redaction": ["redacts"],
    "m.room.create": ["creator", "room_version", "m.federate", "predecessor", "anything"],
}
RULE_SET = {"1": "1", "2": "1", "3": "1", "4": "1", "5": "1", "6": "6", "7": "6", "8": "8",
            "9": "9", "10": "9", "11": "11", "12": "11"}  # fmt: skip

# One content holding every key any rule set keeps for any type, plus junk.
FULL_CONTENT = {
    key: f"value of {key}"
    for key in {
        "membership", "join_authorised_via_users_server", "creator", "room_version",
        "m.federate", "predecessor", "anything", "join_rule", "allow", "aliases",
        "history_visibility", "redacts", "invite", "body", "displayname", *POWER_V1,
    }
}  # fmt: skip


@pytest.mark.parametrize("room_version", ALL, ids=_ids(ALL))
@pytest.mark.parametrize("event_type", sorted(EXPECTED_CONTENT["1"]))
def test_content_keys_kept(room_version: RoomVersion, event_type: str) -> None:
    pdu = _event(event_type, dict(FULL_CONTENT))
    original = copy.deepcopy(pdu)
    redacted = redact(pdu, room_version)
    assert pdu == original  # input untouched
    expected = EXPECTED_CONTENT[RULE_SET[room_version.identifier]][event_type]
    if room_version.identifier in ("11", "12") and event_type == "m.room.create":
        expected = list(FULL_CONTENT)  # v11-redactions: create keeps all content
    assert sorted(redacted["content"]) == sorted(expected)
    for key in expected:
        assert redacted["content"][key] == FULL_CONTENT[key]


@pytest.mark.parametrize("room_version", PRE_V11, ids=_ids(PRE_V11))
def test_top_level_keys_before_v11(room_version: RoomVersion) -> None:
    redacted = redact(_event("m.room.message", {"body": "hi"}), room_version)
    assert sorted(redacted) == sorted(
        [
            "event_id",
            "type",
            "room_id",
            "sender",
            "state_key",
            "content",
            "hashes",
            "signatures",
            "depth",
            "prev_events",
            "prev_state",
            "auth_events",
            "origin",
            "origin_server_ts",
            "membership",
        ]
    )
    assert redacted["content"] == {}


@pytest.mark.parametrize("room_version", V11_PLUS, ids=_ids(V11_PLUS))
def test_top_level_keys_v11_plus(room_version: RoomVersion) -> None:
    # v11: origin, membership and prev_state are no longer protected.
    redacted = redact(_event("m.room.message", {"body": "hi"}), room_version)
    assert sorted(redacted) == sorted(
        [
            "event_id",
            "type",
            "room_id",
            "sender",
            "state_key",
            "content",
            "hashes",
            "signatures",
            "depth",
            "prev_events",
            "auth_events",
            "origin_server_ts",
        ]
    )


@pytest.mark.parametrize("room_version", ALL, ids=_ids(ALL))
def test_third_party_invite_signed(room_version: RoomVersion) -> None:
    invite = {"display_name": "Alice", "signed": {"mxid": "@a:x", "token": "t", "signatures": {}}}
    pdu = _event("m.room.member", {"membership": "invite", "third_party_invite": invite})
    redacted = redact(pdu, room_version)
    if room_version.identifier in ("11", "12"):
        # v11-redactions: member events keep the `signed` key of `third_party_invite`.
        assert redacted["content"] == {
            "membership": "invite",
            "third_party_invite": {"signed": invite["signed"]},
        }
    else:
        assert redacted["content"] == {"membership": "invite"}
    # Without `signed`, nothing of third_party_invite survives.
    bare = _event("m.room.member", {"membership": "invite", "third_party_invite": {"x": 1}})
    assert redact(bare, room_version)["content"] == {"membership": "invite"}


@pytest.mark.parametrize("room_version", ALL, ids=_ids(ALL))
def test_odd_shapes(room_version: RoomVersion) -> None:
    # Missing or non-object content and missing type still redact to an empty content.
    assert redact({"type": "m.room.member"}, room_version) == {
        "type": "m.room.member",
        "content": {},
    }
    assert redact({"content": "text"}, room_version) == {"content": {}}
    # Redaction is idempotent.
    once = redact(_event("m.room.power_levels", dict(FULL_CONTENT)), room_version)
    assert redact(once, room_version) == once
