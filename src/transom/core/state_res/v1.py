"""State resolution v1 (room version 1 only).

Spec: `content/rooms/v1.md` "State resolution". R starts as the union of the state sets without
their conflicting events; conflicts are then resolved in passes: ``m.room.power_levels``,
``m.room.join_rules``, ``m.room.member``, then everything else.

Where the prose leaves the order between keys of one pass open, each pass checks against R as it
stood when the pass began and R takes the pass's results together, so the result cannot depend
on the order of keys (the behaviour of deployed servers). When no conflicting non-auth event
passes, the one of least depth is kept, as deployed servers do; the spec does not say.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence

from transom.core.auth import check_auth
from transom.core.events import Event, StateKey
from transom.core.room_versions import RoomVersion
from transom.core.state_res.auth_chain import require_events
from transom.core.state_res.iterative import auth_events_for
from transom.core.state_res.power import JOIN_RULES, MEMBER, POWER_LEVELS


def separate_v1(
    state_sets: Sequence[Mapping[StateKey, str]],
) -> tuple[dict[StateKey, str], dict[StateKey, set[str]]]:
    """v1: "A conflict occurs between states where those states have different event_ids for
    the same (event_type, state_key)"; a key missing from some state set is not a conflict."""
    unconflicted: dict[StateKey, str] = {}
    conflicted: dict[StateKey, set[str]] = {}
    keys = {key for state_set in state_sets for key in state_set}
    for key in keys:
        values = {state_set[key] for state_set in state_sets if key in state_set}
        if len(values) == 1:
            unconflicted[key] = values.pop()
        else:
            conflicted[key] = values
    return unconflicted, conflicted


def _sha1(event_id: str) -> str:
    return hashlib.sha1(event_id.encode("utf-8")).hexdigest()


def _ascending_depth_descending_sha1(events: list[Event]) -> list[Event]:
    """v1: "Sort the list by ascending depth then descending sha1(event_id)"."""
    by_hash = sorted(events, key=lambda e: _sha1(e.event_id), reverse=True)
    return sorted(by_hash, key=lambda e: e.depth)  # stable: keeps descending sha1 within a depth


def _allowed(
    room_version: RoomVersion,
    event: Event,
    state: Mapping[StateKey, str],
    event_map: Mapping[str, Event],
) -> bool:
    """v1: allowed "by the authorisation rules for a room in state R" (R alone, no fallback to
    the event's cited auth events)."""
    auth_events = auth_events_for(room_version, event, state, event_map, (), use_cited=False)
    return check_auth(event, auth_events) is None


def _resolve_auth_key(
    room_version: RoomVersion,
    events: list[Event],
    state: Mapping[StateKey, str],
    event_map: Mapping[str, Event],
) -> str:
    """v1 pass for an auth key: take the first event, then each next one while it is allowed."""
    ordered = _ascending_depth_descending_sha1(events)
    local = dict(state)
    chosen = ordered[0]
    local[chosen.state_tuple] = chosen.event_id
    for event in ordered[1:]:
        if not _allowed(room_version, event, local, event_map):
            break
        chosen = event
        local[chosen.state_tuple] = chosen.event_id
    return chosen.event_id


def _resolve_other_key(
    room_version: RoomVersion,
    events: list[Event],
    state: Mapping[StateKey, str],
    event_map: Mapping[str, Event],
) -> str:
    """v1 last pass: "the event with the highest depth and lowest sha1(event_id) that passes
    authentication in R"."""
    ordered = list(reversed(_ascending_depth_descending_sha1(events)))
    for event in ordered:
        if _allowed(room_version, event, state, event_map):
            return event.event_id
    return ordered[-1].event_id


def resolve_v1(
    room_version: RoomVersion,
    state_sets: Sequence[Mapping[StateKey, str]],
    event_map: Mapping[str, Event],
) -> dict[StateKey, str]:
    """Spec v1 "State resolution" (room version 1)."""
    unconflicted, conflicted = separate_v1(state_sets)
    require_events(sorted({e for ids in conflicted.values() for e in ids}), event_map)
    resolved = dict(unconflicted)
    Resolver = Callable[
        [RoomVersion, list[Event], Mapping[StateKey, str], Mapping[str, Event]], str
    ]
    passes: list[tuple[Callable[[StateKey], bool], Resolver]] = [
        (lambda key: key == (POWER_LEVELS, ""), _resolve_auth_key),
        (lambda key: key[0] == JOIN_RULES, _resolve_auth_key),
        (lambda key: key[0] == MEMBER, _resolve_auth_key),
        (lambda key: True, _resolve_other_key),
    ]
    remaining = dict(conflicted)
    for selects, resolve_key in passes:
        chosen: dict[StateKey, str] = {}
        for key in sorted(k for k in remaining if selects(k)):
            events = [event_map[event_id] for event_id in remaining.pop(key)]
            chosen[key] = resolve_key(room_version, events, resolved, event_map)
        resolved.update(chosen)
    return resolved
