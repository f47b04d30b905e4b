"""The authorization rules' numbers, as each room version's page numbers them.

Spec: "Room Versions" → each version's "Authorization rules" (`content/rooms/v1.md` … `v12.md`,
fragments `v1-auth-rules`, `v3-auth-rules`, `v8-auth-rules`). The same rule carries a different
number from one version to the next (v1–v5 have the aliases rule 4, v1–v2 the redaction rule 11,
v12 inserts rule 2 and the creators rule 10.4, ...). ``rule_number`` derives the number from the
room version's capability flags so that every ``AuthFailure`` names the rule as the version's page
does.
"""

from __future__ import annotations

from transom.core.room_versions import EventIdFormat, RoomVersion


def has_redaction_rule(rv: RoomVersion) -> bool:
    """v1–v2 rule 11: redactions are checked against the redact level and event ID domains.

    Removed in v3 (`v3-auth-rules`), where event IDs stopped carrying a domain: the flag that
    tells the two apart is the server-assigned event ID format.
    """
    return rv.event_id_format is EventIdFormat.SERVER_ASSIGNED


def _top(rv: RoomVersion) -> list[str]:
    names = ["create"]
    if rv.room_id_is_create_hash:
        names.append("room_id")  # v12 rule 2
    names += ["auth_events", "federate"]
    if rv.special_case_aliases_auth:
        names.append("aliases")  # v1–v5 rule 4
    names += [
        "member",
        "sender_joined",
        "third_party_invite",
        "required_level",
        "user_state_key",
        "power_levels",
    ]
    if has_redaction_rule(rv):
        names.append("redaction")  # v1–v2 rule 11
    names.append("allow")
    return names


def _create(rv: RoomVersion) -> list[str]:
    names = ["prev_events", "room_id", "room_version"]
    if not rv.implicit_room_creator:
        names.append("creator")  # v1–v10 rule 1.4
    if rv.privileged_creators:
        names.append("additional_creators")  # v12 rule 1.4
    names.append("allow")
    return names


def _member(rv: RoomVersion) -> list[str]:
    names = ["fields"]
    if rv.restricted_join:
        names.append("authoriser_signed")  # v8+ rule 4.2 / v12 rule 5.2
    names += ["join", "invite", "leave", "ban"]
    if rv.knocking:
        names.append("knock")  # v7+
    names.append("unknown")
    return names


def _join(rv: RoomVersion) -> list[str]:
    names = ["first_join", "sender_is_target", "banned", "invite_rule"]
    if rv.restricted_join:
        names.append("restricted")  # v8+
    names += ["public", "otherwise"]
    return names


def _power_levels(rv: RoomVersion) -> list[str]:
    names = []
    if rv.integer_power_levels:
        names += ["named_integers", "maps_integers"]  # v10+
    names.append("users")
    if rv.privileged_creators:
        names.append("no_creators")  # v12
    names += [
        "no_previous",
        "named_changes",
        "maps_removed",
        "maps_added",
        "users_removed",
        "users_added",
        "allow",
    ]
    return names


# v1–v11 rule 2.4 exists only before v12; v12 keeps the gap (its rule list jumps from 3.3 to 3.5).
_AUTH_EVENTS = ["duplicates", "selection", "rejected", "has_create", "room_id"]


def rule_number(rv: RoomVersion, *path: str | int) -> str:
    """The dotted number of the rule at ``path`` in ``rv``'s rule list, e.g. ``"5.7.2"``.

    Path elements are rule names (resolved per version) or plain sub-rule numbers.
    """
    parts: list[int] = []
    names: list[str] | None = _top(rv)
    parent: tuple[str | int, ...] = ()
    for element in path:
        if isinstance(element, int):
            parts.append(element)
            names = None
        else:
            if names is None:
                raise ValueError(f"no named rules below {parent!r}")
            parts.append(names.index(element) + 1)
            names = _children(rv, (*parent, element))
        parent = (*parent, element)
    return ".".join(str(p) for p in parts)


def _children(rv: RoomVersion, path: tuple[str | int, ...]) -> list[str] | None:
    if path == ("create",):
        return _create(rv)
    if path == ("auth_events",):
        return _AUTH_EVENTS
    if path == ("member",):
        return _member(rv)
    if path == ("member", "join"):
        return _join(rv)
    if path == ("power_levels",):
        return _power_levels(rv)
    return None
