"""Content hashes, reference hashes and event IDs.

Server-server API "Signing Events" → "Calculating the content hash for an event" and
"Calculating the reference hash for an event"; room versions' "Event IDs" sections (fragments
``v1-event-ids``, v3 "Event IDs", ``v4-event-ids``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from unpaddedbase64 import decode_base64, encode_base64

from transom.core.canonical import encode_canonical_json
from transom.core.errors import InvalidEvent
from transom.core.events import JsonDict
from transom.core.redaction import redact
from transom.core.room_versions import EventIdFormat, RoomVersion


def compute_content_hash(pdu: JsonDict) -> bytes:
    """SHA-256 of the canonical JSON of ``pdu`` without ``unsigned``, ``signatures``, ``hashes``.

    Server-server API "Calculating the content hash for an event" (all room versions).
    """
    stripped = {k: v for k, v in pdu.items() if k not in ("unsigned", "signatures", "hashes")}
    return hashlib.sha256(encode_canonical_json(stripped)).digest()


def add_content_hash(pdu: JsonDict) -> JsonDict:
    """Return a copy of ``pdu`` whose ``hashes.sha256`` is its content hash (unpadded base64).

    Server-server API "Adding hashes and signatures to outgoing events". Other algorithms
    already present in ``hashes`` are kept.
    """
    hashes = pdu.get("hashes")
    new_hashes: dict[str, Any] = dict(hashes) if isinstance(hashes, dict) else {}
    new_hashes["sha256"] = encode_base64(compute_content_hash(pdu))
    return {**pdu, "hashes": new_hashes}


def check_content_hash(pdu: JsonDict) -> bool:
    """Whether ``hashes.sha256`` matches the content hash of ``pdu``.

    Server-server API "Validating hashes and signatures on received events": a mismatch means
    the event must be redacted before further processing. Missing or malformed hashes fail.
    """
    hashes = pdu.get("hashes")
    if not isinstance(hashes, dict):
        return False
    claimed = hashes.get("sha256")
    if not isinstance(claimed, str):
        return False
    try:
        # Appendices "Unpadded Base64": decoders SHOULD accept padded input too.
        claimed_bytes = decode_base64(claimed)
    except ValueError:
        return False
    return claimed_bytes == compute_content_hash(pdu)


def compute_reference_hash(pdu: JsonDict, room_version: RoomVersion) -> bytes:
    """SHA-256 of the canonical JSON of the redacted event without signatures and unsigned.

    Server-server API "Calculating the reference hash for an event" (all room versions; the
    event ID from v3).
    """
    redacted = redact(pdu, room_version)
    redacted.pop("signatures", None)
    redacted.pop("unsigned", None)
    return hashlib.sha256(encode_canonical_json(redacted)).digest()


def compute_event_id(pdu: JsonDict, room_version: RoomVersion) -> str:
    """The event ID of ``pdu`` in ``room_version``.

    v1, v2 (``v1-event-ids``): the server-assigned ``event_id`` key of the PDU.
    v3 (v3 "Event IDs"): ``$`` + the reference hash in standard unpadded base64.
    v4+ (``v4-event-ids``): ``$`` + the reference hash in URL-safe unpadded base64.
    """
    if room_version.event_id_format is EventIdFormat.SERVER_ASSIGNED:
        event_id = pdu.get("event_id")
        if not isinstance(event_id, str):
            raise InvalidEvent("event_id is required in room versions 1 and 2")
        return event_id
    urlsafe = room_version.event_id_format is EventIdFormat.REFERENCE_HASH_URLSAFE
    return "$" + encode_base64(compute_reference_hash(pdu, room_version), urlsafe=urlsafe)
