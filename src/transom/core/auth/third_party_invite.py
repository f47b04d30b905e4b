"""Authorization rule for invites with ``third_party_invite`` (spec: room versions'
"Authorization rules", v12 rule 5.4.1, v6–v11 rule 4.3.1 / 4.4.1 from v8, v1–v5 rule 5.3.1; and
client-server API "Third-party invites").

Rule 5.4.1.7 verifies the ed25519 signatures in ``signed`` against the public keys of the
``m.room.third_party_invite`` event; the keys are in the event, so this stays pure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from signedjson.key import decode_verify_key_bytes
from signedjson.sign import SignatureVerifyException, verify_signed_json
from unpaddedbase64 import decode_base64

from transom.core.errors import AuthFailure
from transom.core.events import Event

from .context import AuthEvents, fail, membership_of

_RULE = ("member", "invite", 1)


def check_third_party_invite(event: Event, auth_events: AuthEvents) -> AuthFailure | None:
    rv = event.room_version
    # Rule x.1.1 (all versions): if the target user is banned, reject.
    if membership_of(event.state_key or "", auth_events) == "ban":
        return fail(rv, (*_RULE, 1), "the target is banned")
    # Rule x.1.2: content.third_party_invite must have a signed property.
    invite = event.content["third_party_invite"]
    if not isinstance(invite, dict) or not isinstance(invite.get("signed"), dict):
        return fail(rv, (*_RULE, 2), "third_party_invite has no signed object")
    signed: dict[str, Any] = invite["signed"]
    # Rule x.1.3: signed must have mxid and token.
    mxid, token = signed.get("mxid"), signed.get("token")
    if not isinstance(mxid, str) or not isinstance(token, str):
        return fail(rv, (*_RULE, 3), "signed has no mxid or token")
    # Rule x.1.4: mxid must match state_key.
    if mxid != event.state_key:
        return fail(rv, (*_RULE, 4), "signed.mxid does not match the state_key")
    # Rule x.1.5: an m.room.third_party_invite event with state_key == token must exist.
    tpi_event = auth_events.get(("m.room.third_party_invite", token))
    if tpi_event is None:
        return fail(rv, (*_RULE, 5), "no m.room.third_party_invite for the token")
    # Rule x.1.6: the sender must match the third_party_invite's sender.
    if tpi_event.sender != event.sender:
        return fail(rv, (*_RULE, 6), "the sender did not send the third party invite")
    # Rule x.1.7: any signature in signed matching any of its public keys, allow.
    for public_key in _public_keys(tpi_event.content):
        if _signed_with(signed, public_key):
            return None
    # Rule x.1.8: otherwise, reject.
    return fail(rv, (*_RULE, 8), "no signature in signed matches the invite's public keys")


def _public_keys(content: Mapping[str, Any]) -> Iterator[str]:
    """Rule x.1.7.1 ``public_key`` and rule x.1.7.2 each ``public_keys[].public_key``."""
    if isinstance(content.get("public_key"), str):
        yield content["public_key"]
    keys = content.get("public_keys")
    if isinstance(keys, list):
        for entry in keys:
            if isinstance(entry, dict) and isinstance(entry.get("public_key"), str):
                yield entry["public_key"]


def _signed_with(signed: dict[str, Any], public_key: str) -> bool:
    signatures = signed.get("signatures")
    if not isinstance(signatures, dict):
        return False
    try:
        key_bytes = decode_base64(public_key)
    except Exception:  # malformed base64 is a non-matching key, never an error
        return False
    for server_name, by_key_id in signatures.items():
        if not isinstance(by_key_id, dict):
            continue
        for key_id in by_key_id:
            if not isinstance(key_id, str) or not key_id.startswith("ed25519:"):
                continue
            try:
                verify_key = decode_verify_key_bytes(key_id, key_bytes)
                verify_signed_json(signed, server_name, verify_key)
            except (SignatureVerifyException, ValueError, TypeError, KeyError):
                continue
            except Exception:  # nacl errors on keys of the wrong length
                continue
            return True
    return False
