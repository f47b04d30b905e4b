"""Auth events selection (spec: server-server API "Auth events selection"; v12: the create event
MUST NOT be selected, v12 "Authorization rules" note and rule 3.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from transom.core.events import StateKey
from transom.core.room_versions import RoomVersion

from .context import CREATE, JOIN_RULES, POWER_LEVELS


def auth_types_for_event(
    room_version: RoomVersion,
    event_type: str,
    state_key: str | None,
    sender: str,
    content: Mapping[str, Any],
) -> list[StateKey]:
    """The ``(type, state_key)`` pairs whose current state events the event's auth_events cite."""
    # "The auth_events for the m.room.create event in a room is empty."
    if event_type == "m.room.create":
        return []
    wanted: list[StateKey] = []
    # v1–v11: the create event; v12 (room_id_is_create_hash): never.
    if not room_version.room_id_is_create_hash:
        wanted.append(CREATE)
    # All versions: the current power levels and the sender's membership.
    wanted.append(POWER_LEVELS)
    wanted.append(("m.room.member", sender))
    if event_type == "m.room.member" and state_key is not None:
        # The target's current membership.
        wanted.append(("m.room.member", state_key))
        membership = content.get("membership")
        # Join rules when the membership is join, invite or knock.
        if membership in ("join", "invite", "knock"):
            wanted.append(JOIN_RULES)
        # An invite with third_party_invite: the invite with the signed token as state_key.
        if membership == "invite":
            token = _third_party_token(content)
            if token is not None:
                wanted.append(("m.room.third_party_invite", token))
        # v8+ (restricted_join): the authorising user's membership on a join.
        if membership == "join" and room_version.restricted_join:
            authoriser = content.get("join_authorised_via_users_server")
            if isinstance(authoriser, str):
                wanted.append(("m.room.member", authoriser))
    return list(dict.fromkeys(wanted))


def _third_party_token(content: Mapping[str, Any]) -> str | None:
    invite = content.get("third_party_invite")
    signed = invite.get("signed") if isinstance(invite, dict) else None
    token = signed.get("token") if isinstance(signed, dict) else None
    return token if isinstance(token, str) else None
