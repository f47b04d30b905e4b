"""Signing and verifying JSON and events.

Appendices "Signing JSON" ("Signing Details", "Checking for a Signature") and server-server API
"Signing Events" ("Adding hashes and signatures to outgoing events", "Validating hashes and
signatures on received events"). The signature primitives are ``signedjson``'s; this module adds
the event rules. Keys are passed in: core never generates keys, fetches them, or reads a clock, so
the caller hands over only keys that were valid at the event's ``origin_server_ts`` (v5+
``v5-signing-requirements``).
"""

from __future__ import annotations

from collections.abc import Mapping

from nacl.signing import VerifyKey
from signedjson.sign import SignatureVerifyException, verify_signed_json
from signedjson.sign import sign_json as _signedjson_sign_json
from signedjson.types import SigningKey
from signedjson.types import VerifyKey as _SignedJsonVerifyKey

from transom.core.errors import SignatureError
from transom.core.events import Event, JsonDict
from transom.core.hashing import compute_event_id
from transom.core.redaction import redact
from transom.core.room_versions import EventIdFormat, RoomVersion

# Appendices "Signing Details": the only signing algorithm the spec defines.
SUPPORTED_ALGORITHMS = frozenset({"ed25519"})


def sign_json(obj: JsonDict, server_name: str, signing_key: SigningKey) -> JsonDict:
    """Return a copy of ``obj`` with this server's signature added under ``signatures``.

    Appendices "Signing Details": the canonical JSON of the object without ``signatures`` and
    ``unsigned`` is signed; existing signatures and ``unsigned`` are carried over.
    """
    copy = dict(obj)
    signatures = obj.get("signatures")
    if isinstance(signatures, dict):
        copy["signatures"] = {
            name: dict(sigs) if isinstance(sigs, dict) else sigs
            for name, sigs in signatures.items()
        }
    signed: JsonDict = _signedjson_sign_json(copy, server_name, signing_key)
    return signed


class _NamedVerifyKey(_SignedJsonVerifyKey):
    """Gives a bare key the ``alg``/``version`` attributes ``signedjson`` looks up."""

    def __init__(self, key: VerifyKey, alg: str, version: str) -> None:
        self.key = key
        self.alg = alg
        self.version = version

    def __bytes__(self) -> bytes:
        return bytes(self.key)

    def encode(self) -> bytes:
        return bytes(self.key)

    def verify(self, message: bytes, signature: bytes) -> bytes:
        result: bytes = self.key.verify(message, signature)
        return result


def verify_json(obj: JsonDict, server_name: str, verify_keys: Mapping[str, VerifyKey]) -> None:
    """Check that ``server_name`` signed ``obj``; raise ``SignatureError`` if not.

    Appendices "Checking for a Signature": signatures with unknown algorithms are removed; if no
    signature remains for which a verification key is known, the check fails; every remaining
    signature must verify. ``verify_keys`` maps key IDs (``ed25519:abc``) to keys.
    """
    signatures = obj.get("signatures")
    server_sigs = signatures.get(server_name) if isinstance(signatures, dict) else None
    if not isinstance(server_sigs, dict) or not server_sigs:
        raise SignatureError(f"no signature from {server_name}")
    key_ids = [
        key_id
        for key_id in server_sigs
        if key_id.split(":", 1)[0] in SUPPORTED_ALGORITHMS and key_id in verify_keys
    ]
    if not key_ids:
        raise SignatureError(
            f"no signature from {server_name} with a known key "
            f"(signed with {sorted(server_sigs)}, known {sorted(verify_keys)})"
        )
    for key_id in key_ids:
        alg, _, version = key_id.partition(":")
        named = _NamedVerifyKey(verify_keys[key_id], alg, version)
        try:
            verify_signed_json(obj, server_name, named)
        except SignatureVerifyException as exc:
            raise SignatureError(f"bad signature from {server_name} ({key_id}): {exc}") from None


def sign_event(
    pdu: JsonDict, room_version: RoomVersion, server_name: str, signing_key: SigningKey
) -> JsonDict:
    """Return a copy of ``pdu`` carrying this server's signature of its redacted form.

    Server-server API "Adding hashes and signatures to outgoing events": the redacted event is
    signed and the signature copied onto the full event. The content hash must already be in
    ``hashes`` (``hashing.add_content_hash``); it is not recomputed here, so a resident server
    can co-sign an event it received (send_join, send_knock) without altering it.
    """
    redacted = redact(pdu, room_version)
    redacted.pop("unsigned", None)
    signed = sign_json(redacted, server_name, signing_key)
    return {**pdu, "signatures": signed["signatures"]}


def verify_event_signatures(
    pdu: JsonDict,
    room_version: RoomVersion,
    keys: Mapping[str, Mapping[str, VerifyKey]],
) -> None:
    """Check the signatures of every server in ``required_signers``; raise ``SignatureError``.

    Server-server API "Validating hashes and signatures on received events": the event is
    redacted first, so a redacted copy verifies as well as the full event. ``keys`` maps server
    names to key IDs to keys already known to be valid for this event.
    """
    event = Event(pdu, room_version, compute_event_id(pdu, room_version))
    redacted = redact(pdu, room_version)
    for server_name in sorted(required_signers(event)):
        verify_json(redacted, server_name, keys.get(server_name, {}))


def required_signers(event: Event) -> set[str]:
    """Servers whose signature an event must carry.

    Server-server API "Validating hashes and signatures on received events":
    - all versions: the server of the ``sender``, unless the event is a third-party invite
      (an ``invite`` member event with ``content.third_party_invite``), which may be sent by
      another server than the sender's;
    - v1, v2: also the server named in the ``event_id``;
    - v8+ (restricted joins): also the server of ``content.join_authorised_via_users_server``
      on any ``m.room.member`` event carrying it (v8–v11 auth rule 4.2.1, v12 rule 5.2.1: "If
      the event is not validly signed by the homeserver of the user ID denoted by the key,
      reject"; the auth rules only check that this signature is present, trusting this step).
    """
    signers: set[str] = set()
    if not (event.membership == "invite" and "third_party_invite" in event.content):
        signers.add(_domain_of(event.sender, "sender"))
    if event.room_version.event_id_format is EventIdFormat.SERVER_ASSIGNED:
        signers.add(_domain_of(event.event_id, "event_id"))
    if event.room_version.restricted_join and event.type == "m.room.member":
        authoriser = event.content.get("join_authorised_via_users_server")
        if isinstance(authoriser, str):
            signers.add(_domain_of(authoriser, "join_authorised_via_users_server"))
    return signers


def _domain_of(identifier: str, what: str) -> str:
    """The server name of a ``&localpart:domain`` identifier (appendices "Common Identifier
    Format"); localparts never contain ``:``, so the domain follows the first colon."""
    _, sep, domain = identifier.partition(":")
    if not sep or not domain:
        raise SignatureError(f"{what} {identifier!r} has no server name")
    return domain
