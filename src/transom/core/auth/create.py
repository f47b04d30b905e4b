"""Authorization rule 1, ``m.room.create`` events (spec: room versions 1–12, "Authorization
rules" rule 1; v11 drops rule 1.4 ``creator``; v12 changes rule 1.2 and adds rule 1.4
``additional_creators``).
"""

from __future__ import annotations

from transom.core.errors import AuthFailure
from transom.core.events import Event
from transom.core.room_versions import KNOWN_ROOM_VERSIONS

from .context import domain_of, fail, is_valid_user_id


def check_create(event: Event) -> AuthFailure | None:
    """Rule 1 for an ``m.room.create`` event; None means allowed (rule 1.5, or v11 rule 1.4)."""
    rv = event.room_version
    # v1–v12 rule 1.1: if it has any prev_events, reject.
    if event.pdu.get("prev_events"):
        return fail(rv, ("create", "prev_events"), "the create event has prev_events")
    if rv.room_id_is_create_hash:
        # v12 rule 1.2: if the event has a room_id, reject.
        if "room_id" in event.pdu:
            return fail(rv, ("create", "room_id"), "the create event has a room_id")
    elif domain_of(event.room_id) != domain_of(event.sender):
        # v1–v11 rule 1.2: the domain of the room_id must match the domain of the sender.
        return fail(rv, ("create", "room_id"), "room_id and sender have different domains")
    # v1–v12 rule 1.3: content.room_version, if present, must be a recognised version.
    if "room_version" in event.content:
        room_version = event.content["room_version"]
        if not isinstance(room_version, str) or room_version not in KNOWN_ROOM_VERSIONS:
            return fail(rv, ("create", "room_version"), "unrecognised content.room_version")
    # v1–v10 rule 1.4: if content has no creator property, reject.
    if not rv.implicit_room_creator and "creator" not in event.content:
        return fail(rv, ("create", "creator"), "content has no creator")
    # v12 rule 1.4: additional_creators, if present, is an array of valid user IDs.
    if rv.privileged_creators and "additional_creators" in event.content:
        extra = event.content["additional_creators"]
        if not isinstance(extra, list) or not all(is_valid_user_id(u) for u in extra):
            return fail(
                rv,
                ("create", "additional_creators"),
                "additional_creators is not an array of valid user IDs",
            )
    # v1–v10 rule 1.5, v11 rule 1.4, v12 rule 1.5: otherwise, allow.
    return None
