"""Auth chains, the auth difference and the conflicted state subgraph.

Spec: room versions' "State resolution" → "Definitions" (`content/rooms/fragments/v2-state-res.md`
for v2–v11, `content/rooms/v12.md` for v12's conflicted state subgraph); the server-server API's
"Auth chain" wording is the same.

Every walk is iterative (rooms have auth chains far deeper than Python's recursion limit) and
reports every event it could not find in one ``MissingEventsError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from transom.core.errors import MissingEventsError
from transom.core.events import Event, StateKey


def get_event(event_id: str, event_map: Mapping[str, Event]) -> Event:
    """``event_map[event_id]``, or ``MissingEventsError`` naming it."""
    event = event_map.get(event_id)
    if event is None:
        raise MissingEventsError([event_id])
    return event


def require_events(event_ids: Iterable[str], event_map: Mapping[str, Event]) -> None:
    """Raise one ``MissingEventsError`` naming every ID absent from ``event_map``."""
    missing = [event_id for event_id in event_ids if event_id not in event_map]
    if missing:
        raise MissingEventsError(missing)


def auth_chain(event_ids: Iterable[str], event_map: Mapping[str, Event]) -> set[str]:
    """The union of the auth chains of ``event_ids`` (all v2+ rooms; v1 uses the same notion).

    Spec "Auth chain" (v2–v12): every event reachable by following ``auth_events`` links. The
    starting events themselves are not part of their own chain unless another one cites them.
    """
    chain: set[str] = set()
    missing: set[str] = set()
    stack = list(event_ids)
    expanded: set[str] = set()
    while stack:
        event_id = stack.pop()
        if event_id in expanded:
            continue
        expanded.add(event_id)
        event = event_map.get(event_id)
        if event is None:
            missing.add(event_id)
            continue
        for auth_id in event.auth_event_ids:
            chain.add(auth_id)
            if auth_id not in expanded:
                stack.append(auth_id)
    if missing:
        raise MissingEventsError(missing)
    return chain


def auth_difference(
    state_sets: Sequence[Mapping[StateKey, str]], event_map: Mapping[str, Event]
) -> set[str]:
    """Spec "Auth difference" (v2–v12): ∪ Cᵢ − ∩ Cᵢ.

    Cᵢ is the full auth chain of the state set Sᵢ, taken as every event reachable from Sᵢ with
    the events of Sᵢ themselves included. The spec's wording leaves open whether Sᵢ's own events
    belong to Cᵢ; Synapse includes them (its "Auth Chain Difference Algorithm" worked example
    puts a state set's own events in the difference), and every server in a room must compute
    the same set, so this follows Synapse. The difference: an unconflicted event is never in
    the auth difference merely because only one set's events cite it.
    """
    if not state_sets:
        return set()
    chains = [
        auth_chain(state_set.values(), event_map) | set(state_set.values())
        for state_set in state_sets
    ]
    union: set[str] = set().union(*chains)
    common = chains[0].intersection(*chains[1:])
    return union - common


def conflicted_state_subgraph(
    conflicted: Iterable[str], event_map: Mapping[str, Event]
) -> set[str]:
    """Spec v12 "Conflicted state subgraph" (v12 only).

    The union of every ``auth_events`` path between two events of the conflicted state set,
    endpoints included: an event belongs when it is a conflicted event, or when it is reachable
    from one conflicted event and another conflicted event is reachable from it.
    """
    conflicted_set = set(conflicted)
    below = auth_chain(conflicted_set, event_map)  # reachable from some conflicted event
    # leads[e]: some conflicted event is reachable from e (e excluded). Post-order walk over the
    # auth graph restricted to `below`, which is closed under auth_events.
    # A malformed graph with a cycle cannot loop: an event already on the walk is not re-entered.
    leads: dict[str, bool] = {}
    visiting: set[str] = set()
    for root in sorted(below):
        if root in leads:
            continue
        stack: list[tuple[str, bool]] = [(root, False)]
        while stack:
            event_id, children_done = stack.pop()
            if event_id in leads:
                continue
            auth_ids = event_map[event_id].auth_event_ids
            if children_done:
                leads[event_id] = any(a in conflicted_set or leads.get(a, False) for a in auth_ids)
                continue
            if event_id in visiting:
                continue
            visiting.add(event_id)
            stack.append((event_id, True))
            stack.extend((a, False) for a in auth_ids if a not in leads)
    return conflicted_set | {event_id for event_id in below if leads[event_id]}
