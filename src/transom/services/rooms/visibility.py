"""History visibility (client-server API, "Room History Visibility").

Whether a user may see an event, given the state at that event and the user's membership then
and now. A user who is only knocking, or who never joined, sees nothing of a room unless it is
``world_readable``.
"""

from __future__ import annotations

from collections.abc import Mapping

from transom.core.events import Event, StateKey


def history_visibility(state: Mapping[StateKey, Event]) -> str:
    event = state.get(("m.room.history_visibility", ""))
    value = event.content.get("history_visibility") if event is not None else None
    # "If no history_visibility is set, or if it is not understood, it is shared."
    if value in ("world_readable", "shared", "invited", "joined"):
        return str(value)
    return "shared"


def membership_in(state: Mapping[StateKey, Event], user_id: str) -> str | None:
    event = state.get(("m.room.member", user_id))
    return event.membership if event is not None else None


def can_see_event(
    event: Event,
    state_at_event: Mapping[StateKey, Event],
    user_id: str,
    current_membership: str | None,
    *,
    joined_after: bool = False,
) -> bool:
    """The spec's visibility algorithm for one event.

    ``state_at_event`` is the state after the event (so a user's own membership event is
    visible to them). ``current_membership`` is the user's membership now; ``joined_after`` says
    whether the user joined the room at some point after the event (a user who has since left).
    """
    visibility = history_visibility(state_at_event)
    if visibility == "world_readable":
        return True
    then = membership_in(state_at_event, user_id)
    if then == "join":
        return True
    if event.type == "m.room.member" and event.state_key == user_id:
        # Users may always see their own membership events.
        return True
    # "shared": visible if the user joined the room at any point after the event was sent.
    if visibility == "shared" and (current_membership == "join" or joined_after):
        return True
    return visibility == "invited" and then == "invite"
