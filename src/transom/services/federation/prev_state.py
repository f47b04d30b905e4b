"""The state before a received event: the state after each of its prev events, resolved.

Spec: server-server API "Checks performed on receipt of a PDU", step 5 ("the state before the
event": the state after each ``prev_event``, resolved with the room version's state resolution
algorithm when there are several), and "Retrieving events" (``GET /state_ids/{roomId}`` when a
prev event, or the state after it, is unknown here). All room versions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from transom.core.errors import MissingEventsError
from transom.core.events import Event
from transom.core.room_versions import RoomVersion
from transom.core.state_res import resolve_state
from transom.services.errors import NotFound
from transom.services.federation.outliers import fetch_and_store_outliers
from transom.storage.events import StoredEvent
from transom.storage.state import StateMap

if TYPE_CHECKING:
    from transom.services.federation.events import FederationEventHandler


async def state_before(
    handler: FederationEventHandler, origin: str, event: Event
) -> tuple[StateMap, int | None]:
    """The resolved state after each prev event, and a state group to store a delta on."""
    rooms = handler.rooms
    state_sets: list[StateMap] = []
    base_group: int | None = None
    groups = await rooms.state.get_state_groups(event.prev_event_ids)
    for prev_id in event.prev_event_ids:
        group = groups.get(prev_id)
        if group is not None:
            state_sets.append(await rooms.state.get_group_state(group))
            base_group = group if base_group is None else base_group
        else:
            state_sets.append(await remote_state_after(handler, origin, event, prev_id))
    if not state_sets:
        return {}, None
    if len(state_sets) == 1:
        return state_sets[0], base_group
    return await resolve(handler, origin, event.room_version, state_sets), base_group


async def remote_state_at(
    handler: FederationEventHandler, origin: str, room_id: str, rv: RoomVersion, event_id: str
) -> StateMap | None:
    """The state before ``event_id`` from ``/state_ids`` at it on ``origin``, the events we lack
    fetched and stored as outliers; None when the peer does not answer."""
    remote = await handler.remote.get_state_ids(origin, room_id, event_id)
    if remote is None:
        return None
    wanted = [*remote.state_ids, *remote.auth_chain_ids, event_id]
    await fetch_and_store_outliers(handler, origin, room_id, rv, wanted)
    known = await handler.rooms.events.get_stored(remote.state_ids)
    state: StateMap = {}
    for state_id in remote.state_ids:
        stored = known.get(state_id)
        if stored is not None and stored.event.is_state and stored.rejected_reason is None:
            state[stored.event.state_tuple] = state_id
    return state


async def remote_state_after(
    handler: FederationEventHandler, origin: str, event: Event, prev_id: str
) -> StateMap:
    """The state after a prev event we lack (or hold only as an outlier): ``/state_ids`` at it
    from the origin, plus the prev event itself when it is an accepted state event."""
    state = await remote_state_at(handler, origin, event.room_id, event.room_version, prev_id)
    if state is None:
        raise NotFound(f"Cannot get the state at {prev_id} from {origin}")
    prev = (await handler.rooms.events.get_stored([prev_id])).get(prev_id)
    if prev is None:
        raise NotFound(f"Cannot fetch the prev event {prev_id} from {origin}")
    if prev.event.is_state and prev.rejected_reason is None:
        state[prev.event.state_tuple] = prev_id
    return state


async def resolve(
    handler: FederationEventHandler,
    origin: str,
    room_version: RoomVersion,
    state_sets: Sequence[StateMap],
    pending: Sequence[Event] = (),
) -> StateMap:
    """State resolution with every event of the state sets and their auth chains loaded; events
    we lack are fetched from ``origin`` once. ``pending`` are events being processed, not yet
    stored, that the state sets may hold (an event's own state after it): never fetched."""
    if len({tuple(sorted(s.items())) for s in state_sets}) == 1:
        return dict(state_sets[0])
    held = {e.event_id: e for e in pending}
    ids = {event_id for state in state_sets for event_id in state.values()} - held.keys()
    ids |= {a for e in pending for a in e.auth_event_ids}
    for attempt in range(2):
        stored = await auth_closure(handler, ids)
        event_map = {i: s.event for i, s in stored.items()} | held
        rejected = {i for i, s in stored.items() if s.rejected_reason is not None}
        try:
            return resolve_state(room_version, state_sets, event_map, rejected=rejected)
        except MissingEventsError as exc:
            if attempt:
                raise
            room_id = next(iter(event_map.values())).room_id if event_map else ""
            await fetch_and_store_outliers(handler, origin, room_id, room_version, exc.event_ids)
    raise AssertionError("unreachable")


async def auth_closure(
    handler: FederationEventHandler, event_ids: Iterable[str]
) -> dict[str, StoredEvent]:
    """The stored events among ``event_ids`` and their full auth chains."""
    found: dict[str, StoredEvent] = {}
    frontier = set(event_ids)
    while frontier:
        stored = await handler.rooms.events.get_stored(frontier)
        found.update(stored)
        frontier = {
            a for s in stored.values() for a in s.event.auth_event_ids if a not in found
        } - set(stored)
        frontier -= found.keys()
        if not stored:
            break
    return found
