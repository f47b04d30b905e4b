"""The authorization rules of room versions 1–12 and auth events selection.

Spec: room versions' "Authorization rules" (`content/rooms/v1.md` … `v12.md`); server-server API
"Auth events selection", "Checks performed on receipt of a PDU" and "Authorisation rules".

Pure functions: the caller hands over the state to authorise against as a mapping keyed by
``(type, state_key)``; a rejection is an ``AuthFailure`` naming the rule as the version's page
numbers it, never an exception.
"""

from __future__ import annotations

from .cited import check_cited_auth_events
from .events import check_auth
from .power_levels import (
    can_do,
    get_event_level,
    get_required_level,
    get_user_power_level,
    room_creators,
)
from .selection import auth_types_for_event

__all__ = [
    "auth_types_for_event",
    "can_do",
    "check_auth",
    "check_cited_auth_events",
    "get_event_level",
    "get_required_level",
    "get_user_power_level",
    "room_creators",
]
