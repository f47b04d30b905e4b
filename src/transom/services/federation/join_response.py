"""Storing the answer to our ``send_join``: the room's state and auth chain, then the join.

Spec: server-server API "Joining Rooms" (the ``send_join`` response's ``state`` and
``auth_chain``; the joining server must check every event as on receipt of a PDU) and "Checks
performed on receipt of a PDU" (all room versions). Every PDU of the answer passes steps 1–3
(format, signatures, hashes) or is dropped; the auth chain and state are stored as outliers in
auth order, each checked against its own auth events (step 4); the join is then checked against
the returned state (step 5) and persisted with that state as the room's current state.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from transom.core.auth import check_auth
from transom.core.errors import MatrixProtocolError
from transom.core.events import Event, JsonDict
from transom.core.room_versions import RoomVersion
from transom.services.errors import Forbidden
from transom.storage.persist import PersistEntry
from transom.storage.state import StateMap

if TYPE_CHECKING:
    from transom.services.federation.events import FederationEventHandler

logger = logging.getLogger(__name__)


async def persist_join(
    handler: FederationEventHandler,
    origin: str,
    room_version: RoomVersion,
    join_event: Event,
    state: list[JsonDict],
    auth_chain: list[JsonDict],
) -> None:
    rooms = handler.rooms
    room_id = join_event.room_id
    events: list[Event] = []
    state_event_ids: set[str] = set()
    for part, pdus in (("auth_chain", auth_chain), ("state", state)):
        for pdu in pdus:
            if not isinstance(pdu, dict):
                continue
            try:
                event = await handler.validate_incoming(origin, room_id, pdu, room_version)
            except MatrixProtocolError as exc:
                logger.info("Dropping a send_join %s event from %s: %s", part, origin, exc.message)
                continue
            events.append(event)
            if part == "state" and event.is_state:
                state_event_ids.add(event.event_id)
    async with rooms.locks.lock(room_id):
        await handler.store_outliers(origin, events)
        known = await rooms.events.get_stored(state_event_ids)
        state_before: StateMap = {}
        for event_id in sorted(state_event_ids):
            item = known.get(event_id)
            if item is None or item.rejected_reason is not None:
                continue
            state_before[item.event.state_tuple] = event_id
        existing = (await rooms.events.get_stored([join_event.event_id])).get(join_event.event_id)
        if existing is not None and not existing.outlier:
            return
        state_events = await rooms.events.get_events(state_before.values())
        auth_state = {k: state_events[v] for k, v in state_before.items() if v in state_events}
        failure = check_auth(join_event, auth_state)
        if failure is not None:
            raise Forbidden(f"The join is not allowed by the room's state: {failure}")
        create_id = state_before.get(("m.room.create", ""))
        create = state_events.get(create_id) if create_id else None
        if create is None:
            raise Forbidden("The room's state has no m.room.create event")
        await _record_room(handler, room_id, room_version, create)
        state_after = dict(state_before)
        state_after[join_event.state_tuple] = join_event.event_id
        await rooms.persister.persist(
            [
                PersistEntry(
                    event=join_event,
                    state_after=state_after,
                    new_extremities=[join_event.event_id],
                )
            ]
        )
    await handler._notify([join_event], origin)


async def _record_room(
    handler: FederationEventHandler, room_id: str, room_version: RoomVersion, create: Event
) -> None:
    """Add the room to the ``rooms`` table so that ``get_room_version`` knows it."""
    creator = create.content.get("creator")
    db = handler.hs.store.db
    async with db.transaction() as conn:
        await handler.rooms.rooms.store_room(
            conn,
            room_id,
            room_version,
            creator if isinstance(creator, str) else create.sender,
            create.origin_server_ts,
        )
