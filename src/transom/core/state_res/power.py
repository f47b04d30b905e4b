"""Power events and sender power levels as state resolution v2 reads them.

Spec: room versions' "State resolution" → "Definitions": "Power events" and the first rule of the
"Reverse topological power ordering" (v2–v12); room version 12's "room creators have infinitely
high power level"; the auth rules' default power levels (creator 100, everyone else
``users_default``, 0 when absent).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from transom.core.events import Event
from transom.core.state_res.auth_chain import get_event

CREATE = "m.room.create"
POWER_LEVELS = "m.room.power_levels"
JOIN_RULES = "m.room.join_rules"
MEMBER = "m.room.member"


def is_power_event(event: Event) -> bool:
    """Spec "Power events" (v2–v12).

    A state event of type ``m.room.power_levels`` or ``m.room.join_rules``, or an
    ``m.room.member`` whose membership is ``leave`` or ``ban`` sent by someone other than the
    target (a kick or a ban).
    """
    if not event.is_state:
        return False
    if event.type in (POWER_LEVELS, JOIN_RULES):
        # The spec names the type only, so any state key counts (Synapse also requires "").
        return True
    if event.type == MEMBER:
        return event.membership in ("leave", "ban") and event.sender != event.state_key
    return False


def auth_event_of_type(
    event: Event, event_type: str, event_map: Mapping[str, Event]
) -> Event | None:
    """The event's cited auth event with ``(event_type, "")``, if any."""
    for auth_id in event.auth_event_ids:
        auth_event = get_event(auth_id, event_map)
        if auth_event.type == event_type and auth_event.state_key == "":
            return auth_event
    return None


def create_event_for(event: Event, event_map: Mapping[str, Event]) -> Event | None:
    """The room's create event as seen from ``event``.

    v1–v11: the ``m.room.create`` event cited in ``auth_events``. v12: the create event is not
    cited; the room ID is ``!`` + the create event's reference hash, so its event ID is ``$`` +
    the same hash (spec v12 "Event format", "Room IDs").
    """
    if event.is_create:
        return event
    if event.room_version.room_id_is_create_hash:
        return get_event("$" + event.room_id[1:], event_map)
    return auth_event_of_type(event, CREATE, event_map)


def room_creators(create: Event) -> frozenset[str]:
    """Room creators: the create event's sender, plus ``additional_creators`` in v12.

    v1–v10 name the creator in ``content.creator``; v11+ use the sender (implicit creator).
    """
    if not create.room_version.implicit_room_creator:
        creator = create.content.get("creator")
        return frozenset([creator]) if isinstance(creator, str) else frozenset()
    creators = {create.sender}
    if create.room_version.privileged_creators:
        extra = create.content.get("additional_creators")
        if isinstance(extra, list):
            creators.update(user for user in extra if isinstance(user, str))
    return frozenset(creators)


def as_int(value: Any, default: int) -> int:
    """A power level value: an integer, or (v1–v9, "stringy power levels") a decimal string."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return default
    return default


def sender_power(event: Event, event_map: Mapping[str, Event]) -> tuple[bool, int]:
    """The sender's power level "when looking at their respective auth_events" (v2–v12).

    Returned as ``(infinite, level)`` so it sorts without floats: ``infinite`` is True for a room
    creator in v12 (spec v12: creators have infinitely high power level). Without a power levels
    event the creator has 100 and everyone else 0 (auth rules' defaults).
    """
    create = create_event_for(event, event_map)
    creators = room_creators(create) if create is not None else frozenset()
    if event.room_version.privileged_creators and event.sender in creators:
        return (True, 0)
    power_levels = auth_event_of_type(event, POWER_LEVELS, event_map)
    if power_levels is None:
        return (False, 100 if event.sender in creators else 0)
    content = power_levels.content
    users = content.get("users")
    default = as_int(content.get("users_default"), 0)
    if isinstance(users, dict) and event.sender in users:
        return (False, as_int(users[event.sender], default))
    return (False, default)
