"""The rules about an event's own ``auth_events`` list (spec: room versions' "Authorization
rules", v1–v11 rule 2, v12 rule 3 "Considering the event's auth_events").
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from transom.core.errors import AuthFailure
from transom.core.events import Event

from .context import CREATE, fail
from .selection import auth_types_for_event


def check_cited_auth_events(
    event: Event, cited: Sequence[Event], rejected_ids: Collection[str] = ()
) -> AuthFailure | None:
    """Check the events ``event`` cites as its auth_events; None means they pass."""
    rv = event.room_version
    # Rule 1 ends with allow for m.room.create (whose auth_events are empty): rule 2/3 is not
    # reached.
    if event.type == "m.room.create":
        return None
    # v1–v11 rule 2.1, v12 rule 3.1: duplicate (type, state_key) pairs, reject.
    seen: set[tuple[str, str]] = set()
    for auth_event in cited:
        if auth_event.state_tuple in seen:
            return fail(rv, ("auth_events", "duplicates"), f"duplicate {auth_event.state_tuple}")
        seen.add(auth_event.state_tuple)
    # v1–v11 rule 2.2, v12 rule 3.2: entries not chosen by the auth events selection, reject
    # (v12: this includes the create event, which must not be selected).
    wanted = set(auth_types_for_event(rv, event.type, event.state_key, event.sender, event.content))
    for auth_event in cited:
        if not auth_event.is_state or auth_event.state_tuple not in wanted:
            return fail(
                rv, ("auth_events", "selection"), f"unexpected auth event {auth_event.event_id}"
            )
    # v1–v11 rule 2.3, v12 rule 3.3: entries that were themselves rejected, reject.
    for auth_event in cited:
        if auth_event.event_id in rejected_ids:
            return fail(
                rv, ("auth_events", "rejected"), f"auth event {auth_event.event_id} was rejected"
            )
    # v1–v11 rule 2.4: no m.room.create event among the entries, reject.
    if not rv.room_id_is_create_hash and CREATE not in seen:
        return fail(rv, ("auth_events", "has_create"), "no m.room.create among auth_events")
    # v1–v11 rule 2.5, v12 rule 3.5: entries from another room, reject.
    for auth_event in cited:
        if auth_event.room_id != event.room_id:
            return fail(
                rv,
                ("auth_events", "room_id"),
                f"auth event {auth_event.event_id} is from another room",
            )
    return None
