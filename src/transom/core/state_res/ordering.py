"""The two orderings of state resolution v2 (room versions 2–12).

Spec: room versions' "State resolution" → "Definitions": "Reverse topological power ordering"
and "Mainline ordering" (`content/rooms/fragments/v2-state-res.md`; unchanged in v12).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from transom.core.events import Event
from transom.core.state_res.auth_chain import get_event
from transom.core.state_res.power import POWER_LEVELS, auth_event_of_type, sender_power


def reverse_topological_power_order(
    event_ids: Iterable[str], event_map: Mapping[str, Event]
) -> list[str]:
    """Spec "Reverse topological power ordering" (v2–v12), earliest event first.

    Kahn's algorithm over the auth DAG restricted to ``event_ids``; among the events whose auth
    events have all been emitted, take the smallest by: greater sender power level first, then
    smaller ``origin_server_ts``, then smaller ``event_id``.
    """
    nodes = set(event_ids)
    pending: dict[str, int] = {}  # how many of its auth events in `nodes` are not emitted yet
    cited_by: dict[str, list[str]] = {node: [] for node in nodes}
    for node in nodes:
        auth_ids = {a for a in get_event(node, event_map).auth_event_ids if a in nodes}
        pending[node] = len(auth_ids)
        for auth_id in auth_ids:
            cited_by[auth_id].append(node)

    def key(event_id: str) -> tuple[bool, int, int, str]:
        event = event_map[event_id]
        infinite, level = sender_power(event, event_map)
        return (not infinite, -level, event.origin_server_ts, event_id)

    ready = [key(node) for node in nodes if pending[node] == 0]
    heapq.heapify(ready)
    ordered: list[str] = []
    while ready:
        event_id = heapq.heappop(ready)[3]
        ordered.append(event_id)
        for child in cited_by[event_id]:
            pending[child] -= 1
            if pending[child] == 0:
                heapq.heappush(ready, key(child))
    # A cycle (only possible with forged v1/v2 event IDs) leaves events unemitted; append them
    # in a fixed order so the result stays deterministic.
    if len(ordered) < len(nodes):
        emitted = set(ordered)
        ordered.extend(sorted((n for n in nodes if n not in emitted), key=key))
    return ordered


def _power_levels_parent(event_id: str, event_map: Mapping[str, Event]) -> str | None:
    parent = auth_event_of_type(get_event(event_id, event_map), POWER_LEVELS, event_map)
    return parent.event_id if parent is not None else None


def mainline_order(
    event_ids: Iterable[str], power_levels_id: str | None, event_map: Mapping[str, Event]
) -> list[str]:
    """Spec "Mainline ordering" based on ``power_levels_id`` (v2–v12), earliest event first.

    The mainline of P₀ is P₀ and its chain of cited power levels events. An event's mainline
    position is the index i of the first event of its own chain (starting at its cited power
    levels event, not at itself) that lies on the mainline, or ∞ when none does. Events sort by
    greater position first, then smaller ``origin_server_ts``, then smaller ``event_id``.
    """
    mainline: list[str] = []
    seen: set[str] = set()
    current = power_levels_id
    while current is not None and current not in seen:
        seen.add(current)
        mainline.append(current)
        current = _power_levels_parent(current, event_map)
    index = {event_id: i for i, event_id in enumerate(mainline)}
    infinity = len(mainline)  # greater than every mainline index

    def position(event_id: str) -> int:
        visited: set[str] = set()
        current = _power_levels_parent(event_id, event_map)
        while current is not None and current not in visited:
            if current in index:
                return index[current]
            visited.add(current)
            current = _power_levels_parent(current, event_map)
        return infinity

    def key(event_id: str) -> tuple[int, int, str]:
        return (-position(event_id), get_event(event_id, event_map).origin_server_ts, event_id)

    return sorted(event_ids, key=key)
