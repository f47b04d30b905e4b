"""Reading power levels (spec: `m.room.power_levels` in the client-server API; server-server API
"Definitions" of the required power level and the invite/kick/ban/redact levels; room versions'
"`m.room.power_levels` events accept values as strings" (v1–v9) and "... as floats" (v1–v5);
v12 "room creators" with an infinitely high power level).

Malformed values never raise: a value that is not a level in the room's version reads as absent,
so the spec's default applies. Rejecting power level events with such values is the job of the
power level rules (``power_levels_rules``).
"""

from __future__ import annotations

import math
import re
from typing import Any

from transom.core.events import Event
from transom.core.room_versions import RoomVersion

from .context import CREATE, POWER_LEVELS, AuthEvents

# Defaults when the key (or the whole power levels event) is absent: m.room.power_levels schema
# and server-server API "Definitions" (invite 0; kick, ban, redact 50; state_default 50;
# events_default 0; users_default 0).
NAMED_LEVEL_DEFAULTS: dict[str, int] = {
    "users_default": 0,
    "events_default": 0,
    "state_default": 50,
    "ban": 50,
    "redact": 50,
    "kick": 50,
    "invite": 0,
}

# Power level of the creator when the room has no power levels event (m.room.power_levels schema).
CREATOR_DEFAULT_LEVEL = 100

# v1–v9 "accept values as strings": optional ASCII whitespace, one sign, base 10 digits.
_STRINGY_INT = re.compile(r"[ \t\n\r\f\v]*[+-]?[0-9]+[ \t\n\r\f\v]*")


def parse_level(value: Any, rv: RoomVersion) -> int | None:
    """A power level value as an int, or None if it is not one in room version ``rv``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if rv.integer_power_levels:
        # v10+ "Values in m.room.power_levels events must be integers".
        return None
    if isinstance(value, str):
        # v1–v9 "m.room.power_levels events accept values as strings".
        return int(value.strip()) if _STRINGY_INT.fullmatch(value) else None
    if isinstance(value, float) and not rv.strict_canonical_json:
        # v1–v5 "accept values as floats": truncate; Infinity and NaN are not levels. (From v6
        # canonical JSON forbids floats, so a float cannot be a level.)
        return math.trunc(value) if math.isfinite(value) else None
    return None


def _room_version(auth_events: AuthEvents) -> RoomVersion | None:
    event = auth_events.get(CREATE) or auth_events.get(POWER_LEVELS)
    return event.room_version if event is not None else None


def room_creators(auth_events: AuthEvents) -> set[str]:
    """The room's creators, from the create event in ``auth_events``.

    v1–v10: ``content.creator``; v11+: the create event's ``sender`` (v11 "Remove the creator
    property"); v12: plus each string in ``content.additional_creators`` (v12 "room creators").
    """
    create = auth_events.get(CREATE)
    if create is None:
        return set()
    rv = create.room_version
    creators: set[str] = set()
    if rv.implicit_room_creator:
        creators.add(create.sender)
    else:
        creator = create.content.get("creator")
        if isinstance(creator, str):
            creators.add(creator)
    if rv.privileged_creators:
        extra = create.content.get("additional_creators")
        if isinstance(extra, list):
            creators.update(c for c in extra if isinstance(c, str))
    return creators


def _named_level(pl: Event | None, key: str) -> int:
    default = NAMED_LEVEL_DEFAULTS[key]
    if pl is None:
        return default
    level = parse_level(pl.content.get(key), pl.room_version)
    return default if level is None else level


def get_user_power_level(user_id: str, auth_events: AuthEvents) -> int | float:
    """The user's power level (``math.inf`` for v12 room creators)."""
    rv = _room_version(auth_events)
    if rv is not None and rv.privileged_creators and user_id in room_creators(auth_events):
        # v12: "The power level of room creators is infinitely high."
        return math.inf
    pl = auth_events.get(POWER_LEVELS)
    if pl is not None:
        users = pl.content.get("users")
        if isinstance(users, dict) and user_id in users:
            level = parse_level(users[user_id], pl.room_version)
            if level is not None:
                return level
        return _named_level(pl, "users_default")
    # No power levels event: "the room's creator has a power level of 100, others 0".
    return CREATOR_DEFAULT_LEVEL if user_id in room_creators(auth_events) else 0


def get_required_level(auth_events: AuthEvents, key: str) -> int:
    """A named level: invite, kick, ban, redact, state_default, events_default, users_default."""
    if key not in NAMED_LEVEL_DEFAULTS:
        raise ValueError(f"not a named power level: {key!r}")
    return _named_level(auth_events.get(POWER_LEVELS), key)


def get_event_level(auth_events: AuthEvents, event_type: str, is_state: bool) -> int:
    """The *required power level* of an event type (server-server API "Definitions")."""
    pl = auth_events.get(POWER_LEVELS)
    if pl is not None:
        events = pl.content.get("events")
        if isinstance(events, dict) and event_type in events:
            level = parse_level(events[event_type], pl.room_version)
            if level is not None:
                return level
    return _named_level(pl, "state_default" if is_state else "events_default")


def can_do(user_id: str, action: str, auth_events: AuthEvents, *, is_state: bool = False) -> bool:
    """Whether the user's level reaches ``action``'s level.

    ``action`` is a named level (``"invite"``, ``"kick"``, ``"ban"``, ``"redact"``, ...) or else an
    event type, sent as a state event when ``is_state``.
    """
    if action in NAMED_LEVEL_DEFAULTS:
        required = get_required_level(auth_events, action)
    else:
        required = get_event_level(auth_events, action, is_state)
    return get_user_power_level(user_id, auth_events) >= required
