"""State resolution: the room state before an event with several ``prev_events``.

Spec: room versions' "State resolution" sections: v1 (`content/rooms/v1.md`), v2 for room
versions 2–11 (`content/rooms/fragments/v2-state-res.md`) and v2.1 for room version 12
(`content/rooms/v12.md`). The room version's ``state_res`` flag picks the algorithm.

Callers prefetch: ``event_map`` holds every event of the state sets and of their full auth chains
(in v12 the create event too, since it is not cited). A gap raises ``MissingEventsError`` naming
the absent events, so the caller can fetch them and retry. ``rejected`` optionally names events
rejected by the auth rules; they are never used as auth events during the iterative auth checks.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from transom.core.events import Event, StateKey
from transom.core.room_versions import RoomVersion, StateResAlgorithm
from transom.core.state_res.auth_chain import auth_chain, auth_difference
from transom.core.state_res.v1 import resolve_v1
from transom.core.state_res.v2 import resolve_v2

__all__ = ["auth_chain", "auth_difference", "resolve_state"]


def resolve_state(
    room_version: RoomVersion,
    state_sets: Sequence[Mapping[StateKey, str]],
    event_map: Mapping[str, Event],
    *,
    rejected: Collection[str] = frozenset(),
) -> dict[StateKey, str]:
    """Resolve ``state_sets`` (maps of ``(type, state_key)`` to event ID) into one state map.

    The result does not depend on the order of ``state_sets`` nor of the mappings' entries.
    """
    if not state_sets:
        return {}
    if len(state_sets) == 1:
        return dict(state_sets[0])
    if room_version.state_res is StateResAlgorithm.V1:
        return resolve_v1(room_version, state_sets, event_map)
    return resolve_v2(room_version, state_sets, event_map, rejected)
