"""State resolution v2 (room versions 2–11) and v2.1 (room version 12).

Spec: `content/rooms/fragments/v2-state-res.md` ("State resolution", "Algorithm" steps 1–5) and
`content/rooms/v12.md` "State resolution", whose changes are: the full conflicted set also holds
the conflicted state subgraph, and step 2 starts from an empty state map instead of the
unconflicted state map.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from transom.core.events import Event, StateKey
from transom.core.room_versions import RoomVersion, StateResAlgorithm
from transom.core.state_res.auth_chain import (
    auth_chain,
    auth_difference,
    conflicted_state_subgraph,
    require_events,
)
from transom.core.state_res.iterative import iterative_auth_checks
from transom.core.state_res.ordering import mainline_order, reverse_topological_power_order
from transom.core.state_res.power import POWER_LEVELS, is_power_event


def separate(
    state_sets: Sequence[Mapping[StateKey, str]],
) -> tuple[dict[StateKey, str], set[str]]:
    """Spec "Unconflicted state map and conflicted state set" (v2–v12).

    A key present in every state set with the same event is unconflicted; every other event
    (including one whose key is absent from some state set) is conflicted.
    """
    unconflicted: dict[StateKey, str] = {}
    conflicted: set[str] = set()
    keys = {key for state_set in state_sets for key in state_set}
    for key in keys:
        values = {state_set.get(key) for state_set in state_sets}
        present = {value for value in values if value is not None}
        if len(values) == 1 and present:
            unconflicted[key] = present.pop()
        else:
            conflicted |= present
    return unconflicted, conflicted


def full_conflicted_set(
    room_version: RoomVersion,
    state_sets: Sequence[Mapping[StateKey, str]],
    conflicted: set[str],
    event_map: Mapping[str, Event],
) -> set[str]:
    """Spec "Full conflicted set": conflicted set ∪ auth difference (v2–v11), plus the
    conflicted state subgraph (v12)."""
    full = conflicted | auth_difference(state_sets, event_map)
    if room_version.state_res is StateResAlgorithm.V2_1:
        full |= conflicted_state_subgraph(conflicted, event_map)
    return full


def resolve_v2(
    room_version: RoomVersion,
    state_sets: Sequence[Mapping[StateKey, str]],
    event_map: Mapping[str, Event],
    rejected: Collection[str] = frozenset(),
) -> dict[StateKey, str]:
    """Spec "Algorithm" (v2–v11; v12 with its two changes)."""
    unconflicted, conflicted = separate(state_sets)
    if not conflicted:
        return unconflicted
    require_events(sorted(conflicted), event_map)
    full = full_conflicted_set(room_version, state_sets, conflicted, event_map)
    require_events(sorted(full), event_map)

    # Step 1: the power events of the full conflicted set, with the parts of their auth chains
    # that are also in the full conflicted set, in reverse topological power ordering.
    power = {event_id for event_id in full if is_power_event(event_map[event_id])}
    power_closure = power | (auth_chain(power, event_map) & full)
    power_order = reverse_topological_power_order(power_closure, event_map)

    # Step 2: iterative auth checks from the unconflicted state map (v2–v11) or from an empty
    # state map (v12, "changed-in v=12").
    base: Mapping[StateKey, str] = (
        {} if room_version.state_res is StateResAlgorithm.V2_1 else unconflicted
    )
    partial = iterative_auth_checks(room_version, base, power_order, event_map, rejected)

    # Step 3: the other events, in mainline ordering based on the resolved power levels.
    leftover = sorted(full - power_closure)
    leftover_order = mainline_order(leftover, partial.get((POWER_LEVELS, "")), event_map)

    # Step 4: iterative auth checks on top of the partially resolved state.
    resolved = iterative_auth_checks(room_version, partial, leftover_order, event_map, rejected)

    # Step 5: the unconflicted state map wins for every key it holds.
    resolved.update(unconflicted)
    return resolved
