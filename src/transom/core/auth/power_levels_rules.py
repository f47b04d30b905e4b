"""Authorization rules for ``m.room.power_levels`` events (spec: room versions' "Authorization
rules", v1–v5 rule 10, v6–v11 rule 9, v12 rule 10; ``notifications`` from v6; integer-only values
(rules 9.1–9.2) from v10; "creators cannot be in users" (rule 10.4) in v12).

Sub-rules are named (``numbering._power_levels``) and numbered per version; the comments quote the
v12 number. In v1–v9 a named level or map entry whose value is not a level reads as absent, as it
does everywhere else (``power_levels.parse_level``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from transom.core.errors import AuthFailure
from transom.core.events import Event
from transom.core.room_versions import RoomVersion

from .context import POWER_LEVELS, AuthEvents, fail, is_valid_user_id
from .power_levels import NAMED_LEVEL_DEFAULTS, get_user_power_level, parse_level, room_creators

_RULE = "power_levels"
_NAMED = ("users_default", "events_default", "state_default", "ban", "redact", "kick", "invite")


def check_power_levels(event: Event, auth_events: AuthEvents) -> AuthFailure | None:
    """The power levels rules, run after the general rules; None means allowed."""
    rv = event.room_version
    content = event.content
    failure = _check_shape(rv, content, auth_events)
    if failure is not None:
        return failure
    # v12 rule 10.5 (v10–v11 9.4, v6–v9 9.2, v1–v5 10.2): no previous power levels, allow.
    previous = auth_events.get(POWER_LEVELS)
    if previous is None:
        return None
    old = previous.content
    sender_level = get_user_power_level(event.sender, auth_events)
    # v12 rule 10.6 (v1–v5 10.3, v6–v9 9.3, v10–v11 9.5): named levels added, changed, removed.
    for key in _NAMED:
        before, after = _named(old, key, rv), _named(content, key, rv)
        if before == after:
            continue
        if before is not None and before > sender_level:
            return fail(rv, (_RULE, "named_changes", 1), f"{key}: current value above yours")
        if after is not None and after > sender_level:
            return fail(rv, (_RULE, "named_changes", 2), f"{key}: new value above yours")
    # v1–v5: `events` only; v6+ (limit_notifications_power_levels): `events` and `notifications`.
    maps = ("events", "notifications") if rv.limit_notifications_power_levels else ("events",)
    changes = {
        name: _diff(_level_map(old, name, rv), _level_map(content, name, rv)) for name in maps
    }
    # v12 rule 10.7: entries changed in or removed from events/notifications.
    for name, entries in changes.items():
        for key, (before, _after) in entries.items():
            if before is not None and before > sender_level:
                return fail(
                    rv, (_RULE, "maps_removed", 1), f"{name}.{key}: current value above yours"
                )
    # v12 rule 10.8: entries added to or changed in events/notifications.
    for name, entries in changes.items():
        for key, (_before, after) in entries.items():
            if after is not None and after > sender_level:
                return fail(rv, (_RULE, "maps_added", 1), f"{name}.{key}: new value above yours")
    users = _diff(_level_map(old, "users", rv), _level_map(content, "users", rv))
    # v12 rule 10.9: users changed or removed, other than the sender's own entry.
    for user_id, (before, _after) in users.items():
        if user_id != event.sender and before is not None and before >= sender_level:
            return fail(rv, (_RULE, "users_removed", 1), f"{user_id}: not below your level")
    # v12 rule 10.10: users added or changed.
    for user_id, (_before, after) in users.items():
        if after is not None and after > sender_level:
            return fail(rv, (_RULE, "users_added", 1), f"{user_id}: new value above yours")
    # v12 rule 10.11 (the spec's second "10."), v10–v11 9.10, v6–v9 9.8, v1–v5 10.8: allow.
    return None


def _check_shape(
    rv: RoomVersion, content: Mapping[str, Any], auth_events: AuthEvents
) -> AuthFailure | None:
    if rv.integer_power_levels:
        # v12 rule 10.1 (v10+ 9.1): named levels, when present, are integers.
        for key in _NAMED:
            if key in content and parse_level(content[key], rv) is None:
                return fail(rv, (_RULE, "named_integers"), f"{key} is not an integer")
        # v12 rule 10.2 (v10+ 9.2): events and notifications are objects of integers.
        for key in ("events", "notifications"):
            if key in content and not _is_level_map(content[key], rv):
                return fail(rv, (_RULE, "maps_integers"), f"{key} is not an object of integers")
    # v12 rule 10.3 (v10–v11 9.3, v6–v9 9.1, v1–v5 10.1): users maps valid user IDs to integers
    # (v1–v9: or strings that are integers; v1–v5 also floats).
    if "users" in content:
        users = content["users"]
        if not _is_level_map(users, rv) or not all(is_valid_user_id(u) for u in users):
            return fail(rv, (_RULE, "users"), "users is not an object of user IDs to levels")
    # v12 rule 10.4: users must not contain a room creator.
    if rv.privileged_creators and "users" in content:
        creators = room_creators(auth_events) & set(content["users"])
        if creators:
            return fail(rv, (_RULE, "no_creators"), f"users contains creators {sorted(creators)}")
    return None


def _is_level_map(value: Any, rv: RoomVersion) -> bool:
    return isinstance(value, dict) and all(parse_level(v, rv) is not None for v in value.values())


def _named(content: Mapping[str, Any], key: str, rv: RoomVersion) -> int | None:
    """A named level as the rules compare it: None when absent, its default when malformed."""
    if key not in content:
        return None
    level = parse_level(content[key], rv)
    return NAMED_LEVEL_DEFAULTS[key] if level is None else level


def _level_map(content: Mapping[str, Any], name: str, rv: RoomVersion) -> dict[str, int]:
    value = content.get(name)
    if not isinstance(value, dict):
        return {}
    parsed = {str(k): parse_level(v, rv) for k, v in value.items()}
    return {k: v for k, v in parsed.items() if v is not None}


def _diff(
    before: dict[str, int], after: dict[str, int]
) -> dict[str, tuple[int | None, int | None]]:
    """Entries added, changed or removed: key → (current value, new value)."""
    return {
        key: (before.get(key), after.get(key))
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    }
