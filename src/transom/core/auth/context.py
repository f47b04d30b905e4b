"""Reading the state that the authorization rules consult.

Spec: server-server API "Authorisation rules" and "Definitions" (target user, current membership
state), room versions 1–12 "Authorization rules". The rules are handed the state to authorise
against as a mapping keyed by ``(type, state_key)``; these helpers read it without raising on
malformed content (a malformed entry reads as absent).
"""

from __future__ import annotations

from collections.abc import Mapping

from transom.core.errors import AuthFailure
from transom.core.events import Event, StateKey
from transom.core.room_versions import RoomVersion

from .numbering import rule_number

AuthEvents = Mapping[StateKey, Event]

CREATE: StateKey = ("m.room.create", "")
POWER_LEVELS: StateKey = ("m.room.power_levels", "")
JOIN_RULES: StateKey = ("m.room.join_rules", "")

_MAX_USER_ID_BYTES = 255


def fail(rv: RoomVersion, path: tuple[str | int, ...], reason: str) -> AuthFailure:
    """An ``AuthFailure`` naming the rule at ``path`` as ``rv``'s page numbers it."""
    return AuthFailure(rule=rule_number(rv, *path), reason=reason)


def create_event(auth_events: AuthEvents) -> Event | None:
    return auth_events.get(CREATE)


def membership_of(user_id: str, auth_events: AuthEvents) -> str | None:
    """The user's current membership state, or None when they have no member event."""
    member = auth_events.get(("m.room.member", user_id))
    return member.membership if member is not None else None


def join_rule(auth_events: AuthEvents) -> str | None:
    """``join_rule`` of the current ``m.room.join_rules`` event, or None.

    A room without a join rules event has no join rule: every join rule branch of the membership
    rules misses and the join falls through to "Otherwise, reject".
    """
    event = auth_events.get(JOIN_RULES)
    if event is None:
        return None
    value = event.content.get("join_rule")
    return value if isinstance(value, str) else None


def domain_of(identifier: str) -> str:
    """The server name of a user ID, room ID (v1–v11) or event ID (v1–v2): after the first ``:``."""
    return identifier.partition(":")[2]


def is_valid_user_id(value: object) -> bool:
    """Appendices "User Identifiers", accepting "Historical User IDs" as servers MUST.

    ``@`` sigil, a localpart of any code points but ``:`` and NUL (possibly empty), ``:``, a
    non-empty server name, at most 255 bytes in all.
    """
    if not isinstance(value, str) or not value.startswith("@"):
        return False
    localpart, sep, server_name = value[1:].partition(":")
    if not sep or not server_name or "\x00" in localpart:
        return False
    return len(value.encode("utf-8", "surrogatepass")) <= _MAX_USER_ID_BYTES


def is_signed_by_server_of(event: Event, user_id: str) -> bool:
    """Whether the event carries a signature from the homeserver of ``user_id``.

    Signatures are verified before the auth rules run ("Checks performed on receipt of a PDU",
    step 2), so here it is enough that the server's name is present in ``signatures``.
    """
    server = domain_of(user_id)
    sigs = event.signatures.get(server)
    return bool(server) and isinstance(sigs, Mapping) and len(sigs) > 0
