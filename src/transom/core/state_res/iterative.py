"""The iterative auth checks of state resolution v2 (room versions 2–12).

Spec: room versions' "State resolution" → "Definitions" → "Iterative auth checks" and
"Rejected events" (`content/rooms/fragments/v2-state-res.md`, `content/rooms/v12.md`). The
authorisation rules themselves are ``transom.core.auth``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from transom.core.auth import auth_types_for_event, check_auth
from transom.core.events import Event, StateKey
from transom.core.room_versions import RoomVersion
from transom.core.state_res.auth_chain import get_event
from transom.core.state_res.power import CREATE, create_event_for

CREATE_KEY: StateKey = (CREATE, "")


def auth_events_for(
    room_version: RoomVersion,
    event: Event,
    state: Mapping[StateKey, str],
    event_map: Mapping[str, Event],
    rejected: Collection[str],
    *,
    use_cited: bool = True,
) -> dict[StateKey, Event]:
    """The auth events ``event`` is checked against, given the partially resolved ``state``.

    For each key the auth rules need: the event in ``state`` if present, otherwise the event's
    own cited auth event of that key, unless that one was rejected (v2–v12; ``use_cited=False``
    for v1, which checks against the state alone). The create event is always included at
    ``("m.room.create", "")``; in v12 it is found from the room ID.
    """
    wanted = set(
        auth_types_for_event(room_version, event.type, event.state_key, event.sender, event.content)
    )
    wanted.add(CREATE_KEY)
    auth_events: dict[StateKey, Event] = {}
    for auth_id in event.auth_event_ids if use_cited else ():
        auth_event = get_event(auth_id, event_map)
        if auth_id not in rejected and auth_event.state_tuple in wanted:
            auth_events[auth_event.state_tuple] = auth_event
    for key in wanted:
        state_id = state.get(key)
        # Rejected events never belong in state; skip one if a caller's state set holds it.
        if state_id is not None and state_id not in rejected:
            auth_events[key] = get_event(state_id, event_map)
    if CREATE_KEY not in auth_events:
        create = create_event_for(event, event_map)
        if create is not None:
            auth_events[CREATE_KEY] = create
    return auth_events


def iterative_auth_checks(
    room_version: RoomVersion,
    base_state: Mapping[StateKey, str],
    event_ids: Iterable[str],
    event_map: Mapping[str, Event],
    rejected: Collection[str] = frozenset(),
) -> dict[StateKey, str]:
    """Spec "Iterative auth checks" (v2–v12).

    Starting from ``base_state``, apply each state event of ``event_ids`` in order when the
    authorisation rules allow it against the state built so far; ignore it otherwise.
    """
    state = dict(base_state)
    for event_id in event_ids:
        event = get_event(event_id, event_map)
        auth_events = auth_events_for(room_version, event, state, event_map, rejected)
        if check_auth(event, auth_events) is None:
            state[event.state_tuple] = event_id
    return state
