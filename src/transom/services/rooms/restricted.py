"""Joining ``restricted`` (room versions 8+) and ``knock_restricted`` (10+) rooms without an invite.

Spec: client-server API "Restricted rooms" (a user who meets one of the join rules' ``allow``
conditions may join; the server MUST check the conditions); server-server API "Restricted rooms"
(the resident server names one of its joined users able to invite in the join's
``join_authorised_via_users_server`` and signs the event; 400 ``M_UNABLE_TO_GRANT_JOIN`` when it
sees the user qualifies but has no such user; 403 ``M_FORBIDDEN`` when every condition fails).
Room versions' auth rule 5.3.5 (v12 numbering; 4.3.5 in v8–v11) then checks the authoriser.

The only condition type is ``m.room_membership``: the user is *joined* to the named room. We can
verify it only for rooms this server is in: a remote user's make_join into a room whose allowed
rooms this server is in none of is answered 400 ``M_UNABLE_TO_AUTHORISE_JOIN`` (server-server API
"GET /make_join": "none of the conditions can be validated by the resident server"), so the
joining server tries another resident server. The conditions are evaluated on the join alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from transom.core.auth import get_required_level, get_user_power_level
from transom.core.events import Event, JsonDict, StateKey
from transom.core.room_versions import RoomVersion
from transom.services.errors import Forbidden

AUTHORISER_KEY = "join_authorised_via_users_server"
ROOM_MEMBERSHIP = "m.room_membership"


class UnableToGrantJoin(Forbidden):
    """400 ``M_UNABLE_TO_GRANT_JOIN``: the user qualifies but no local user can authorise."""

    errcode = "M_UNABLE_TO_GRANT_JOIN"
    http_status = 400


def restricted_rules(room_version: RoomVersion) -> frozenset[str]:
    """Join rules with ``allow`` conditions: v8+ ``restricted``, v10+ also ``knock_restricted``."""
    rules: set[str] = set()
    if room_version.restricted_join:
        rules.add("restricted")
    if room_version.knock_restricted:
        rules.add("knock_restricted")
    return frozenset(rules)


def allowed_room_ids(join_rules_content: Mapping[str, Any]) -> list[str]:
    """The room IDs of the ``m.room_membership`` conditions in ``allow`` (malformed entries,
    and condition types we do not know, are skipped as the spec asks)."""
    allow = join_rules_content.get("allow")
    if not isinstance(allow, list):
        return []
    found: list[str] = []
    for entry in allow:
        if (
            isinstance(entry, dict)
            and entry.get("type") == ROOM_MEMBERSHIP
            and isinstance(entry.get("room_id"), str)
            and entry["room_id"] not in found
        ):
            found.append(entry["room_id"])
    return found


def choose_authoriser(state: Mapping[StateKey, Event], candidates: list[str]) -> str | None:
    """Of ``candidates`` (local users), one joined with at least the invite level: the highest
    power level wins, then the smallest user ID, so the choice is deterministic."""
    needed = get_required_level(state, "invite")
    able = []
    for user_id in candidates:
        member = state.get(("m.room.member", user_id))
        if member is None or member.membership != "join":
            continue
        level = get_user_power_level(user_id, state)
        if level >= needed:
            able.append((-level, user_id))
    return min(able)[1] if able else None


class UnableToAuthoriseJoin(Forbidden):
    """400 ``M_UNABLE_TO_AUTHORISE_JOIN``: this server cannot validate any of the conditions."""

    errcode = "M_UNABLE_TO_AUTHORISE_JOIN"
    http_status = 400


# (user ID, room ID) -> the user's current membership of that room, or None.
MembershipLookup = Callable[[str, str], Awaitable[str | None]]


async def restricted_join_content(
    user_id: str,
    state: Mapping[StateKey, Event],
    room_version: RoomVersion,
    *,
    membership_of: MembershipLookup,
    is_local: Callable[[str], bool],
    server_in_room: Callable[[str], Awaitable[bool]] | None = None,
) -> JsonDict:
    """Extra content for ``user_id``'s join: ``{}`` when no authoriser is needed, otherwise
    ``{"join_authorised_via_users_server": ...}``. Raises 403 when no condition is met, 400
    ``M_UNABLE_TO_GRANT_JOIN`` when no local user may authorise. With ``server_in_room`` (a
    remote user's make_join), an unmet set of conditions of which this server is in none of the
    rooms is 400 ``M_UNABLE_TO_AUTHORISE_JOIN`` instead of 403."""
    join_rules = state.get(("m.room.join_rules", ""))
    rule = join_rules.content.get("join_rule") if join_rules is not None else None
    if rule not in restricted_rules(room_version):
        return {}
    member = state.get(("m.room.member", user_id))
    # Rule 5.3.5.1 (v8+): a user already joined or invited needs no authoriser.
    if member is not None and member.membership in ("join", "invite"):
        return {}
    if member is not None and member.membership == "ban":
        raise Forbidden("You are banned from this room")
    assert join_rules is not None
    met = False
    allowed = allowed_room_ids(join_rules.content)
    for allowed_room in allowed:
        if await membership_of(user_id, allowed_room) == "join":
            met = True
            break
    if not met and server_in_room is not None:
        checkable = [room for room in allowed if await server_in_room(room)]
        if not checkable:
            raise UnableToAuthoriseJoin(
                "This server is in none of the rooms that allow joining; try another server"
            )
    if not met:
        hint = " You may knock to ask to join." if rule == "knock_restricted" else ""
        raise Forbidden(f"You do not meet any of this room's conditions for joining.{hint}")
    candidates = sorted(key[1] for key in state if key[0] == "m.room.member" and is_local(key[1]))
    authoriser = choose_authoriser(state, candidates)
    if authoriser is None:
        raise UnableToGrantJoin(
            "No user on this server can authorise your join; try joining through another server"
        )
    return {AUTHORISER_KEY: authoriser}
