"""Storing outliers: events received over federation whose state is unknown.

Spec: server-server API "Checks performed on receipt of a PDU" (all room versions). An outlier
(an auth chain or state event fetched with ``/event``, ``/event_auth`` or from a ``send_join``
answer) passes steps 1–3 (format, signatures, hashes) like any PDU, then only step 4: it must be
authorised by its own ``auth_events``; a failure stores it as rejected. Outliers are stored in
auth order so that each one's auth events are there before it. They are not part of any client
timeline and do not move the room's state.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from transom.core.auth import check_auth, check_cited_auth_events
from transom.core.errors import AuthFailure, MatrixProtocolError
from transom.core.events import Event, JsonDict, StateKey
from transom.core.room_versions import RoomVersion
from transom.storage.events import StoredEvent
from transom.storage.persist import PersistEntry

if TYPE_CHECKING:
    from transom.services.federation.events import FederationEventHandler

logger = logging.getLogger(__name__)

CREATE: StateKey = ("m.room.create", "")
# How many events a state fetch may pull from a peer through /event before giving up.
MAX_STATE_FETCH = 500


def implied_create_id(event: Event) -> str | None:
    """Room versions 12+ ("room_id_is_create_hash"): the create event's ID is implied by the room
    ID and it is an auth event of every other event without being cited."""
    if event.room_version.room_id_is_create_hash and not event.is_create:
        return "$" + event.room_id[1:]
    return None


async def fetch_and_store_outliers(
    handler: FederationEventHandler,
    origin: str,
    room_id: str,
    room_version: RoomVersion,
    event_ids: Iterable[str],
) -> None:
    """Fetch the events among ``event_ids`` we lack with ``/event`` and store them (and any auth
    events they need) as outliers, each checked against its own auth events."""
    ids = list(dict.fromkeys(event_ids))
    have = await handler.rooms.events.have_events(ids)
    lacking = [i for i in ids if i not in have][:MAX_STATE_FETCH]
    if not lacking:
        return
    pdus = await handler.remote.get_events(origin, lacking)
    await store_outlier_pdus(handler, origin, room_id, room_version, pdus)


async def store_outlier_pdus(
    handler: FederationEventHandler,
    origin: str,
    room_id: str,
    room_version: RoomVersion,
    pdus: Sequence[JsonDict],
) -> list[StoredEvent]:
    """Steps 1–3 on raw PDUs (failures dropped), then ``store_outliers``."""
    events: list[Event] = []
    for pdu in pdus:
        try:
            events.append(await handler.validate_incoming(origin, room_id, pdu, room_version))
        except MatrixProtocolError as exc:
            logger.info("Dropping an event fetched from %s: %s", origin, exc.message)
    return await store_outliers(handler, origin, events)


async def store_outliers(
    handler: FederationEventHandler, origin: str, events: Sequence[Event]
) -> list[StoredEvent]:
    """Store validated events whose state is unknown, in auth order, each authorised by its own
    auth events only (step 4); a failure stores it as rejected."""
    rooms = handler.rooms
    pending = {e.event_id: e for e in events}
    for event_id in await rooms.events.have_events(list(pending)):
        pending.pop(event_id)
    result: list[StoredEvent] = []
    # Fetch auth events neither stored nor in the batch (one round).
    needed = {a for e in pending.values() for a in e.auth_event_ids} - pending.keys()
    if pending and needed:
        first = next(iter(pending.values()))
        have = await rooms.events.have_events(list(needed))
        missing = [a for a in needed if a not in have]
        if missing:
            for pdu in await handler.remote.get_events(origin, missing):
                try:
                    extra = await handler.validate_incoming(
                        origin, first.room_id, pdu, first.room_version
                    )
                except MatrixProtocolError:
                    continue
                pending.setdefault(extra.event_id, extra)
    while pending:
        ready = [e for e in pending.values() if not any(a in pending for a in e.auth_event_ids)]
        if not ready:  # an auth cycle: nothing in it can be authorised
            ready = list(pending.values())
        ready.sort(key=lambda e: (e.depth, e.event_id))
        for event in ready:
            del pending[event.event_id]
            create_id = implied_create_id(event)
            wanted = [*event.auth_event_ids, *([create_id] if create_id else [])]
            stored = await rooms.events.get_stored(wanted)
            failure = check_against_cited(event, stored, create_id)
            entry = PersistEntry(
                event=event,
                state_after=None,
                outlier=True,
                rejected_reason=str(failure) if failure is not None else None,
            )
            result.extend(await rooms.persister.persist([entry]))
    return result


def check_against_cited(
    event: Event, stored: dict[str, StoredEvent], create_id: str | None
) -> AuthFailure | None:
    """Step 4: the auth rules with the event's cited auth events as the state."""
    missing = [i for i in event.auth_event_ids if i not in stored]
    if missing:
        return AuthFailure(rule="auth_events", reason=f"missing auth events {sorted(missing)}")
    cited = [stored[i].event for i in event.auth_event_ids]
    rejected = {i for i in event.auth_event_ids if stored[i].rejected_reason is not None}
    failure = check_cited_auth_events(event, cited, rejected)
    if failure is not None:
        return failure
    auth_map = {e.state_tuple: e for e in cited}
    if create_id is not None:
        create = stored.get(create_id)
        if create is None or create.rejected_reason is not None:
            return AuthFailure(rule="room_id", reason="the room's create event is unknown")
        auth_map[CREATE] = create.event
    return check_auth(event, auth_map)
