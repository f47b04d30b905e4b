"""Signing (appendices "Signing JSON", "Cryptographic Test Vectors"; server-server API
"Signing Events")."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey as NaclSigningKey
from signedjson.key import decode_signing_key_base64, get_verify_key

from transom.core.errors import SignatureError
from transom.core.events import Event
from transom.core.hashing import add_content_hash
from transom.core.redaction import redact
from transom.core.room_versions import V1, V3, V7, V8, V10, V11, get_room_version
from transom.core.signing import (
    required_signers,
    sign_event,
    sign_json,
    verify_event_signatures,
    verify_json,
)

VECTORS = Path(__file__).parent / "vectors"
KEY = json.loads((VECTORS / "signing_key.json").read_text())
SIGNED_JSON = json.loads((VECTORS / "signed_json.json").read_text())
SIGNED_EVENTS = json.loads((VECTORS / "signed_events.json").read_text())

SIGNING_KEY = decode_signing_key_base64("ed25519", KEY["key_id"].split(":")[1], KEY["seed"])
VERIFY_KEYS = {KEY["key_id"]: get_verify_key(SIGNING_KEY)}
SERVER = KEY["server_name"]


@pytest.mark.parametrize("case", SIGNED_JSON["cases"])
def test_json_signing_vectors(case: dict[str, Any]) -> None:
    original = copy.deepcopy(case["input"])
    assert sign_json(case["input"], SERVER, SIGNING_KEY) == case["signed"]
    assert case["input"] == original  # the input is not modified
    verify_json(case["signed"], SERVER, VERIFY_KEYS)


@pytest.mark.parametrize("case", SIGNED_EVENTS["cases"])
def test_event_signing_vectors(case: dict[str, Any]) -> None:
    room_version = get_room_version(SIGNED_EVENTS["room_version"])
    signed = sign_event(add_content_hash(case["input"]), room_version, SERVER, SIGNING_KEY)
    assert signed == case["signed"]
    # The first vector has no event_id, which v1/v2 PDUs need; its signature covers the v1–v5
    # redaction, which v3 shares, so it is checked as a v3 event there.
    check_version = room_version if "event_id" in case["input"] else V3
    verify_event_signatures(case["signed"], check_version, {SERVER: VERIFY_KEYS})
    # "this step should succeed whether we have been sent the full event or a redacted copy"
    verify_event_signatures(
        redact(case["signed"], check_version), check_version, {SERVER: VERIFY_KEYS}
    )


def test_sign_json_keeps_other_signatures_and_unsigned() -> None:
    other = NaclSigningKey(b"\x01" * 32)
    other.alg, other.version = "ed25519", "other"  # type: ignore[attr-defined]
    first = sign_json({"a": 1, "unsigned": {"age": 5}}, "one.example", other)
    both = sign_json(first, SERVER, SIGNING_KEY)
    assert set(both["signatures"]) == {"one.example", SERVER}
    assert set(first["signatures"]) == {"one.example"}  # the first copy is untouched
    assert both["unsigned"] == {"age": 5}
    verify_json(both, "one.example", {"ed25519:other": other.verify_key})
    verify_json(both, SERVER, VERIFY_KEYS)


def test_verify_json_failures() -> None:
    signed = sign_json({"one": 1}, SERVER, SIGNING_KEY)
    with pytest.raises(SignatureError, match="no signature from elsewhere"):
        verify_json(signed, "elsewhere", VERIFY_KEYS)
    with pytest.raises(SignatureError, match="known key"):
        verify_json(signed, SERVER, {"ed25519:2": VERIFY_KEYS["ed25519:1"]})
    tampered = {**signed, "one": 2}
    with pytest.raises(SignatureError, match="bad signature"):
        verify_json(tampered, SERVER, VERIFY_KEYS)
    wrong_key = NaclSigningKey(b"\x02" * 32).verify_key
    with pytest.raises(SignatureError, match="bad signature"):
        verify_json(signed, SERVER, {"ed25519:1": wrong_key})
    garbled = {**signed, "signatures": {SERVER: {"ed25519:1": "!!not base64!!"}}}
    with pytest.raises(SignatureError):
        verify_json(garbled, SERVER, VERIFY_KEYS)
    # Appendices "Checking for a Signature" step 2: unknown algorithms are skipped.
    unknown_alg = {**signed, "signatures": {SERVER: {"curve9:1": "AAAA"}}}
    with pytest.raises(SignatureError, match="known key"):
        verify_json(unknown_alg, SERVER, {"curve9:1": VERIFY_KEYS["ed25519:1"]})
    with pytest.raises(SignatureError, match="no signature"):
        verify_json({"one": 1}, SERVER, VERIFY_KEYS)


def test_unsigned_is_not_covered() -> None:
    signed = sign_json({"one": 1}, SERVER, SIGNING_KEY)
    verify_json({**signed, "unsigned": {"age": 99}}, SERVER, VERIFY_KEYS)


def _member(room_version: Any, content: dict[str, Any], **extra: Any) -> Event:
    pdu = {
        "type": "m.room.member",
        "state_key": "@joiner:joiner.example",
        "sender": "@joiner:joiner.example",
        "content": content,
        **extra,
    }
    return Event(pdu, room_version, extra.get("event_id", "$hash"))


def test_required_signers_sender_and_v1_event_id() -> None:
    ev = _member(V3, {"membership": "join"})
    assert required_signers(ev) == {"joiner.example"}
    ev1 = _member(V1, {"membership": "join"}, event_id="$abc:creator.example")
    assert required_signers(ev1) == {"joiner.example", "creator.example"}


def test_required_signers_restricted_join_v8_plus() -> None:
    content = {"membership": "join", "join_authorised_via_users_server": "@mod:resident.example"}
    assert required_signers(_member(V8, content)) == {"joiner.example", "resident.example"}
    assert required_signers(_member(V10, content)) == {"joiner.example", "resident.example"}
    # Before v8 the key has no meaning.
    assert required_signers(_member(V7, content)) == {"joiner.example"}
    # Auth rule 4.2.1 (v8+) applies to any membership carrying the key, not only joins, and the
    # auth rules trust that the signature was verified here.
    knock = {**content, "membership": "knock"}
    assert required_signers(_member(V10, knock)) == {"joiner.example", "resident.example"}
    # A non-string value names no server; the auth rules reject it.
    bad = {"membership": "join", "join_authorised_via_users_server": 7}
    assert required_signers(_member(V10, bad)) == {"joiner.example"}


def test_required_signers_third_party_invite() -> None:
    content = {"membership": "invite", "third_party_invite": {"signed": {}}}
    assert required_signers(_member(V11, content)) == set()
    assert required_signers(_member(V1, content, event_id="$x:other.example")) == {"other.example"}


def test_required_signers_malformed_sender() -> None:
    ev = Event({"type": "m.room.message", "sender": "nocolon", "content": {}}, V11, "$e")
    with pytest.raises(SignatureError, match="no server name"):
        required_signers(ev)


def test_verify_event_needs_every_required_signer() -> None:
    other = NaclSigningKey(b"\x03" * 32)
    other.alg, other.version = "ed25519", "r"  # type: ignore[attr-defined]
    pdu = add_content_hash(
        {
            "type": "m.room.member",
            "state_key": "@u:domain",
            "sender": "@u:domain",
            "room_id": "!r:resident.example",
            "content": {"membership": "join", "join_authorised_via_users_server": "@m:res.example"},
            "depth": 3,
            "origin_server_ts": 1,
            "prev_events": [],
            "auth_events": [],
            "hashes": {},
            "signatures": {},
        }
    )
    signed = sign_event(pdu, V10, SERVER, SIGNING_KEY)
    keys = {SERVER: VERIFY_KEYS, "res.example": {"ed25519:r": other.verify_key}}
    with pytest.raises(SignatureError, match=r"res\.example"):
        verify_event_signatures(signed, V10, keys)
    cosigned = sign_event(signed, V10, "res.example", other)
    verify_event_signatures(cosigned, V10, keys)
    # The co-signature leaves the first one in place and the content hash untouched.
    assert cosigned["hashes"] == signed["hashes"]
    assert set(cosigned["signatures"]) == {SERVER, "res.example"}
    # Changing a protected key breaks the signatures; changing a redactable one does not.
    with pytest.raises(SignatureError):
        verify_event_signatures({**cosigned, "depth": 4}, V10, keys)
    verify_event_signatures({**cosigned, "content": {**cosigned["content"], "x": 1}}, V10, keys)
