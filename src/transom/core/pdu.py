"""Validating and building PDUs.

Server-server API "PDUs" and "Checks performed on receipt of a PDU" (step 1: "Is a valid event");
the PDU definitions ``data/api/server-server/definitions/pdu_v1`` (v1, v2), ``pdu_v3`` (v3),
``pdu_v4`` (v4, v5), ``pdu_v6`` (v6–v10), ``pdu_v11`` (v11), ``pdu_v12`` (v12); client-server API
"Size limits"; "Adding hashes and signatures to outgoing events" for building.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from signedjson.types import SigningKey
from unpaddedbase64 import encode_base64

from transom.core.canonical import check_strict_json, encode_canonical_json
from transom.core.errors import InvalidCanonicalJson, InvalidEvent, InvalidIdentifier
from transom.core.events import Event, JsonDict
from transom.core.hashing import add_content_hash, compute_event_id, compute_reference_hash
from transom.core.identifiers import RoomID, UserID
from transom.core.room_versions import EventFormat, RoomVersion
from transom.core.signing import sign_event

# Client-server API "Size limits" (all room versions).
MAX_PDU_BYTES = 65536
MAX_ID_BYTES = 255  # sender, room_id, event_id (appendices) and state_key, type
# PDU definitions: prev_events at most 20, auth_events at most 10 (all room versions).
MAX_PREV_EVENTS = 20
MAX_AUTH_EVENTS = 10
# pdu_v1..pdu_v4: depth below 2**63 - 1; depth_v6 (v6+): below 2**53 - 1 (strict canonical JSON).
MAX_DEPTH_V1 = 2**63 - 1
MAX_DEPTH_V6 = 2**53 - 1


def parse_pdu(pdu: JsonDict, room_version: RoomVersion) -> Event:
    """Check that ``pdu`` has the format of ``room_version`` and wrap it as an ``Event``.

    Raises ``InvalidEvent`` naming the first problem found. The event ID is the PDU's
    ``event_id`` in v1/v2 and its reference hash from v3.
    """
    if not isinstance(pdu, dict):
        raise InvalidEvent("PDU must be a JSON object")
    if room_version.strict_canonical_json:
        # Fragment v6-canonical-json (v6+): events that are not strict canonical JSON are dropped.
        try:
            check_strict_json(pdu)
        except InvalidCanonicalJson as exc:
            raise InvalidEvent(f"PDU is not canonical JSON: {exc.message}") from None
    try:
        size = len(encode_canonical_json(pdu))
    except InvalidCanonicalJson as exc:
        raise InvalidEvent(f"PDU cannot be encoded: {exc.message}") from None
    if size > MAX_PDU_BYTES:
        # Client-server API "Size limits": the whole event, signatures included.
        raise InvalidEvent(f"PDU is {size} bytes, more than the {MAX_PDU_BYTES}-byte limit")
    _check_common_keys(pdu, room_version)
    _check_event_refs(pdu, room_version)
    event_id = compute_event_id(pdu, room_version)
    _check_id_size("event_id", event_id)
    return Event(pdu, room_version, event_id)


def _check_common_keys(pdu: JsonDict, room_version: RoomVersion) -> None:
    # components/pdu_base.yaml (all versions).
    _require(pdu, "type", str)
    _require(pdu, "sender", str)
    _require(pdu, "content", dict)
    _require(pdu, "origin_server_ts", int)
    _require(pdu, "depth", int)
    _require(pdu, "hashes", dict)
    _require(pdu, "signatures", dict)
    _optional(pdu, "state_key", str)
    _optional(pdu, "unsigned", dict)
    for key in ("type", "sender", "state_key"):
        if key in pdu:
            _check_id_size(key, pdu[key])
    # components/event_hash.yaml: `sha256` is required.
    if not isinstance(pdu["hashes"].get("sha256"), str):
        raise InvalidEvent("hashes.sha256 must be a string")
    # pdu_base.yaml: signatures is server name -> key ID -> signature string.
    for server, sigs in pdu["signatures"].items():
        if not isinstance(sigs, dict) or not all(isinstance(s, str) for s in sigs.values()):
            raise InvalidEvent(f"signatures of {server!r} must map key IDs to strings")
    max_depth = MAX_DEPTH_V6 if room_version.strict_canonical_json else MAX_DEPTH_V1
    if not 0 <= pdu["depth"] <= max_depth:
        raise InvalidEvent(f"depth must be between 0 and {max_depth}")
    # room_id_before_v12.yaml (v1–v11) requires room_id; room_id_v12.yaml (v12) omits it from
    # m.room.create events only.
    is_create = pdu["type"] == "m.room.create" and pdu.get("state_key") == ""
    if room_version.room_id_is_create_hash and is_create:
        _optional(pdu, "room_id", str)
    else:
        _require(pdu, "room_id", str)
    if "room_id" in pdu:
        _check_id_size("room_id", pdu["room_id"])
        _check_identifier(RoomID.parse, "room_id", pdu["room_id"])
    # Appendices "Historical User IDs": senders seen over federation use the lenient grammar.
    _check_identifier(UserID.parse, "sender", pdu["sender"])
    # pdu_v1..pdu_v6: top-level `redacts` (v1–v10); pdu_v11 moves it into content (v11+).
    if not room_version.redacts_in_content:
        _optional(pdu, "redacts", str)
    if room_version.event_format is EventFormat.V1:
        _require(pdu, "event_id", str)  # pdu_v1 (v1, v2)


def _check_event_refs(pdu: JsonDict, room_version: RoomVersion) -> None:
    """prev_events/auth_events: [event_id, {"sha256": ...}] pairs in v1/v2, IDs from v3."""
    for key, limit in (("prev_events", MAX_PREV_EVENTS), ("auth_events", MAX_AUTH_EVENTS)):
        refs = _require(pdu, key, list)
        if len(refs) > limit:
            raise InvalidEvent(f"{key} has {len(refs)} entries, more than {limit}")
        for ref in refs:
            if room_version.event_format is EventFormat.V1:
                # pdu_v1: each entry is a two-item array [event ID, event_hash.yaml].
                ok = (
                    isinstance(ref, list)
                    and len(ref) == 2
                    and isinstance(ref[0], str)
                    and isinstance(ref[1], dict)
                    and isinstance(ref[1].get("sha256"), str)
                )
                if not ok:
                    raise InvalidEvent(f"{key} entries must be [event_id, {{'sha256': hash}}]")
            elif not isinstance(ref, str):
                raise InvalidEvent(f"{key} entries must be event ID strings")


def _require(pdu: JsonDict, key: str, kind: type) -> Any:
    if key not in pdu:
        raise InvalidEvent(f"missing required key {key!r}")
    _optional(pdu, key, kind)
    return pdu[key]


def _optional(pdu: JsonDict, key: str, kind: type) -> None:
    if key not in pdu:
        return
    value = pdu[key]
    # JSON booleans are not integers, although Python's bool subclasses int.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidEvent(f"{key!r} must be of JSON type {_JSON_TYPE_NAMES[kind]}")


_JSON_TYPE_NAMES: dict[type, str] = {str: "string", int: "integer", dict: "object", list: "array"}


def _check_identifier(parse: Callable[[str], object], key: str, value: str) -> None:
    try:
        parse(value)
    except InvalidIdentifier as exc:
        raise InvalidEvent(f"{key}: {exc.message}") from None


def _check_id_size(key: str, value: str) -> None:
    # Client-server API "Size limits"; appendices "Identifier Grammar": 255 bytes of UTF-8.
    if len(value.encode("utf-8")) > MAX_ID_BYTES:
        raise InvalidEvent(f"{key} is longer than {MAX_ID_BYTES} bytes")


def build_event(
    *,
    room_version: RoomVersion,
    room_id: str | None,
    sender: str,
    event_type: str,
    content: JsonDict,
    state_key: str | None = None,
    prev_events: Sequence[Event],
    auth_events: Sequence[Event],
    depth: int,
    origin_server_ts: int,
    origin: str,
    signing_key: SigningKey,
    redacts: str | None = None,
    event_id_v1: str | None = None,
) -> Event:
    """Build, hash and sign a complete PDU, then validate it with ``parse_pdu``.

    - v1, v2 (pdu_v1): ``event_id_v1`` becomes ``event_id``; prev/auth events are
      ``[event_id, {"sha256": reference hash}]`` pairs.
    - v3+ (pdu_v3, pdu_v4): prev/auth events are lists of event IDs.
    - v1–v10: an ``origin`` key names this server (kept by redaction until v11); ``redacts``
      is top-level. v11+ (v11 "Event format"): ``origin`` is dropped and ``redacts`` goes into
      ``content``.
    - v12 (pdu_v12): the ``m.room.create`` event has no ``room_id``.
    The content hash and this server's signature are added last; ``origin`` is also the name
    the event is signed with.
    """
    pdu: JsonDict = {
        "type": event_type,
        "sender": sender,
        "content": dict(content),
        "depth": depth,
        "origin_server_ts": origin_server_ts,
        "prev_events": [_event_ref(e, room_version) for e in prev_events],
        "auth_events": [_event_ref(e, room_version) for e in auth_events],
        "hashes": {},
        "signatures": {},
    }
    if state_key is not None:
        pdu["state_key"] = state_key
    is_create = event_type == "m.room.create" and state_key == ""
    if not (room_version.room_id_is_create_hash and is_create):
        if room_id is None:
            raise InvalidEvent("room_id is required except on a v12 m.room.create event")
        pdu["room_id"] = room_id
    if room_version.event_format in (EventFormat.V1, EventFormat.V3):
        pdu["origin"] = origin
    if redacts is not None:
        if room_version.redacts_in_content:
            pdu["content"]["redacts"] = redacts
        else:
            pdu["redacts"] = redacts
    if room_version.event_format is EventFormat.V1:
        if event_id_v1 is None:
            raise InvalidEvent("room versions 1 and 2 need a server-assigned event_id")
        pdu["event_id"] = event_id_v1
    signed = sign_event(add_content_hash(pdu), room_version, origin, signing_key)
    return parse_pdu(signed, room_version)


def _event_ref(event: Event, room_version: RoomVersion) -> str | list[Any]:
    if room_version.event_format is EventFormat.V1:
        ref_hash = encode_base64(compute_reference_hash(event.pdu, event.room_version))
        return [event.event_id, {"sha256": ref_hash}]
    return event.event_id
