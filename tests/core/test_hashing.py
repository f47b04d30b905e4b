"""Content hashes, reference hashes and event IDs (server-server API "Signing Events";
room versions' "Event IDs")."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import canonicaljson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from transom.core.errors import InvalidEvent
from transom.core.hashing import (
    add_content_hash,
    check_content_hash,
    compute_content_hash,
    compute_event_id,
    compute_reference_hash,
)
from transom.core.redaction import redact
from transom.core.room_versions import KNOWN_ROOM_VERSIONS, V1, V2, V3, V4, V6, V11, V12

SIGNED_EVENTS = json.loads((Path(__file__).parent / "vectors" / "signed_events.json").read_text())


@pytest.mark.parametrize("case", SIGNED_EVENTS["cases"])
def test_content_hash_vectors(case: dict[str, Any]) -> None:
    hashed = add_content_hash(case["input"])
    assert hashed["hashes"] == case["signed"]["hashes"]
    assert "sha256" not in case["input"].get("hashes", {})  # input untouched
    assert check_content_hash(case["signed"])


def _pdu(**extra: Any) -> dict[str, Any]:
    return {
        "type": "m.room.message",
        "room_id": "!r:x",
        "sender": "@u:x",
        "content": {"body": "hello"},
        "depth": 2,
        "origin_server_ts": 7,
        "prev_events": ["$a"],
        "auth_events": ["$b"],
        "hashes": {},
        "signatures": {},
        **extra,
    }


def test_content_hash_ignores_unsigned_signatures_hashes() -> None:
    base = compute_content_hash(_pdu())
    noisy = _pdu(unsigned={"age": 3}, signatures={"x": {"k": "s"}}, hashes={"sha256": "zz"})
    assert compute_content_hash(noisy) == base
    without = {k: v for k, v in _pdu().items() if k not in ("hashes", "signatures")}
    assert base == hashlib.sha256(canonicaljson.encode_canonical_json(without)).digest()
    # but covers everything else, redactable content included
    assert compute_content_hash(_pdu(content={"body": "other"})) != base


def test_add_and_check_content_hash() -> None:
    hashed = add_content_hash(_pdu(hashes={"sha512": "kept"}))
    assert hashed["hashes"]["sha512"] == "kept"
    assert check_content_hash(hashed)
    assert not check_content_hash({**hashed, "content": {"body": "tampered"}})
    assert not check_content_hash(_pdu())  # no sha256
    assert not check_content_hash({**hashed, "hashes": "nope"})
    assert not check_content_hash({**hashed, "hashes": {"sha256": "***"}})
    assert not check_content_hash({**hashed, "hashes": {"sha256": "a"}})  # not decodable
    # Padded base64 is accepted too (appendices "Unpadded Base64").
    padded = hashed["hashes"]["sha256"] + "="
    assert check_content_hash({**hashed, "hashes": {"sha256": padded}})


def test_reference_hash_covers_redacted_form_only() -> None:
    pdu = add_content_hash(_pdu())
    ref = compute_reference_hash(pdu, V6)
    # Signatures, unsigned and redactable content do not change the reference hash...
    assert compute_reference_hash({**pdu, "signatures": {"y": {}}, "unsigned": {}}, V6) == ref
    assert compute_reference_hash({**pdu, "content": {}}, V6) == ref
    # ...but the hashes (hence any content change, once re-hashed) and protected keys do.
    assert compute_reference_hash(add_content_hash({**pdu, "content": {}}), V6) != ref
    assert compute_reference_hash({**pdu, "depth": 3}, V6) != ref
    expected = dict(pdu)
    expected["content"] = {}
    del expected["signatures"]
    assert ref == hashlib.sha256(canonicaljson.encode_canonical_json(expected)).digest()


def test_event_id_formats() -> None:
    pdu = add_content_hash(_pdu())
    ref_v3 = compute_reference_hash(pdu, V3)
    assert compute_event_id(pdu, V3) == "$" + base64.b64encode(ref_v3).decode().rstrip("=")
    ref_v4 = compute_reference_hash(pdu, V4)
    assert compute_event_id(pdu, V4) == "$" + base64.urlsafe_b64encode(ref_v4).decode().rstrip("=")
    for version in (V4, V6, V11, V12):
        event_id = compute_event_id(pdu, version)
        assert len(event_id) == 44 and "+" not in event_id and "/" not in event_id
    assert compute_event_id({**pdu, "event_id": "$x:y"}, V1) == "$x:y"
    assert compute_event_id({**pdu, "event_id": "$x:y"}, V2) == "$x:y"
    with pytest.raises(InvalidEvent):
        compute_event_id(pdu, V1)


def test_spec_v4_example_alphabet() -> None:
    # Find a PDU whose reference hash has a '+' or '/' in standard base64 to see both alphabets.
    for n in range(200):
        pdu = add_content_hash(_pdu(depth=n))
        v3_id = compute_event_id(pdu, V3)
        if "+" in v3_id or "/" in v3_id:
            v4_id = compute_event_id(pdu, V4)
            assert v4_id == v3_id.replace("+", "-").replace("/", "_")
            return
    pytest.fail("no reference hash with + or / found")


_SPECIAL_TYPES = (
    "m.room.member",
    "m.room.create",
    "m.room.join_rules",
    "m.room.power_levels",
    "m.room.aliases",
    "m.room.history_visibility",
    "m.room.redaction",
    "m.room.message",
)
_json_leaf = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=8)
_content = st.dictionaries(
    st.sampled_from(["membership", "join_rule", "allow", "creator", "redacts", "users", "body"])
    | st.text(max_size=6),
    _json_leaf | st.lists(_json_leaf, max_size=3),
    max_size=6,
)


@given(
    room_version=st.sampled_from(list(KNOWN_ROOM_VERSIONS.values())),
    event_type=st.sampled_from(_SPECIAL_TYPES),
    content=_content,
    extra=st.dictionaries(
        st.sampled_from(["origin", "membership", "prev_state", "junk"]), _json_leaf
    ),
)
def test_event_id_is_the_same_for_the_full_and_the_redacted_event(
    room_version: Any, event_type: str, content: dict[str, Any], extra: dict[str, Any]
) -> None:
    # "Calculating the reference hash": the event is redacted first, so a server that only has
    # the redacted copy computes the same event ID (v3+) and reference hash (v1, v2).
    pdu = add_content_hash(
        {
            **extra,
            "event_id": "$e:origin.example",
            "type": event_type,
            "state_key": "",
            "room_id": "!r:origin.example",
            "sender": "@u:origin.example",
            "content": content,
            "depth": 2,
            "origin_server_ts": 5,
            "prev_events": [],
            "auth_events": [],
            "signatures": {},
            "unsigned": {"age": 1},
        }
    )
    redacted = redact(pdu, room_version)
    assert redact(redacted, room_version) == redacted
    assert compute_reference_hash(redacted, room_version) == compute_reference_hash(
        pdu, room_version
    )
    assert compute_event_id(redacted, room_version) == compute_event_id(pdu, room_version)
    # The content hash covers the unredacted content, so it only survives if nothing was cut.
    assert check_content_hash(pdu)
    assert check_content_hash(redacted) == (
        {k: v for k, v in redacted.items() if k not in ("hashes", "signatures", "unsigned")}
        == {k: v for k, v in pdu.items() if k not in ("hashes", "signatures", "unsigned")}
    )
