"""Receiving PDUs over federation: the checks performed on receipt of a PDU, in the spec's order.

Spec: server-server API "PDUs" → "Checks performed on receipt of a PDU" (all room versions):
1. a valid event of its room version's format, else dropped;
2. signatures of every required signer, else dropped;
3. the content hash, else the event is redacted and processing continues with the redacted form;
4. authorised by its own ``auth_events``, else rejected;
5. authorised by the state before the event (the state after each ``prev_event``, resolved with
   the room version's state resolution when there are several), else rejected;
6. authorised by the room's current state, else "soft failed".
(Step 7, Policy Servers (v1.18), is not implemented: no room here enables one.)

"Rejection": a rejected event is stored as rejected, never served to clients, never used as an
auth event, and does not change the state (the state after it is the state before it).
"Soft failure": a soft-failed event is stored with its state, takes part in later state
resolution, but is not shown to clients, does not move current state and is not a forward
extremity. It is stored with ``outlier = TRUE`` (and a state group), which keeps it out of every
client timeline query.

Steps live in their own modules: ``prev_state`` (the state before an event, step 5),
``outliers`` (events whose state is unknown: steps 1–4 only), ``backfill`` (history older than
what this server holds), ``join_response`` (the answer to our ``send_join``).

Invariant: everything that writes a room's DAG holds ``hs.rooms.locks`` for that room, so the
pipeline's view of forward extremities and current state cannot change under it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from transom.core.acl import server_allowed_by_acl
from transom.core.auth import auth_types_for_event, check_auth
from transom.core.errors import (
    AuthFailure,
    MatrixProtocolError,
    SignatureError,
)
from transom.core.events import Event, JsonDict, StateKey
from transom.core.hashing import check_content_hash
from transom.core.pdu import parse_pdu
from transom.core.redaction import redact
from transom.core.room_versions import RoomVersion
from transom.services.errors import BadJson, Forbidden, NotFound
from transom.services.federation import outliers, prev_state
from transom.services.federation.backfill import Backfiller
from transom.services.federation.missing import RemoteEvents
from transom.storage.events import StoredEvent
from transom.storage.persist import PersistEntry
from transom.storage.state import StateMap

if TYPE_CHECKING:
    from transom.app import HomeServer

logger = logging.getLogger(__name__)

CREATE: StateKey = ("m.room.create", "")
SERVER_ACL: StateKey = ("m.room.server_acl", "")

ReceivedListener = Callable[[Sequence[Event], str], Awaitable[None]]


class FederationEventHandler:
    """``hs.federation_events``: the inbound PDU pipeline."""

    def __init__(self, hs: HomeServer) -> None:
        self.hs = hs
        self.rooms = hs.rooms
        self.remote = RemoteEvents(lambda: getattr(hs, "federation_client", None))
        self.listeners: list[ReceivedListener] = []
        self.backfiller = Backfiller(self)

    # Steps 1–3 --------------------------------------------------------------------------------

    async def validate_incoming(
        self, origin: str, room_id: str, pdu: JsonDict, room_version: RoomVersion
    ) -> Event:
        """Format, signatures and hashes (steps 1–3). Raises ``InvalidEvent``/``BadJson`` (400)
        or ``Forbidden`` (403, bad signatures); returns the event, redacted if its content hash
        did not match."""
        # Step 1: the room version's event format (and the size limits).
        event = parse_pdu(pdu, room_version)
        if event.room_id != room_id:
            raise BadJson(f"Event {event.event_id} is not in room {room_id}")
        if "\x00" in event.type or "\x00" in (event.state_key or ""):
            # Our storage keeps these as text, which cannot hold U+0000 on PostgreSQL.
            raise BadJson(f"Event {event.event_id} has U+0000 in its type or state key")
        # Step 2: signatures of every required signer, with keys valid at origin_server_ts (v5+).
        keyring = getattr(self.hs, "keyring", None)
        if keyring is None:
            raise Forbidden("Cannot check signatures: no key ring")
        try:
            await keyring.verify_event(pdu, room_version)
        except SignatureError as exc:
            raise Forbidden(f"Signature check failed: {exc.message}") from None
        # "unsigned" is not covered by signatures or hashes; what a peer puts there is not kept.
        clean = {k: v for k, v in pdu.items() if k != "unsigned"}
        # Step 3: a content hash mismatch means the event is redacted before going on ("Validating
        # hashes and signatures on received events"); its ID (reference hash) is unchanged.
        if not check_content_hash(clean):
            logger.info("Content hash mismatch on %s: redacting it", event.event_id)
            clean = redact(clean, room_version)
        return Event(clean, room_version, event.event_id)

    # The whole pipeline -----------------------------------------------------------------------

    async def receive_pdu(self, origin: str, pdu: JsonDict) -> str | None:
        """One PDU of a ``/send`` transaction: None when processed (accepted, soft failed, or
        already known), else the error for the transaction's ``pdus`` result. Never raises for
        bad input."""
        try:
            if not isinstance(pdu, dict):
                return "PDU is not a JSON object"
            room_id = pdu.get("room_id")
            if not isinstance(room_id, str):
                return "PDU has no room_id"
            room_version = await self.rooms.rooms.get_room_version(room_id)
            if room_version is None:
                return f"Unknown room {room_id}"
            # "Server Access Control Lists": PDUs of a room the origin is denied are ignored.
            if not await self.server_allowed(origin, room_id):
                return "Origin is denied by the room's server ACL"
            event = await self.validate_incoming(origin, room_id, pdu, room_version)
            await self.persist_incoming(origin, event)
            return None
        except Forbidden as exc:
            return exc.message
        except MatrixProtocolError as exc:
            return exc.message
        except Exception:
            logger.exception("Failed to process a PDU from %s", origin)
            return "Internal error processing the PDU"

    async def persist_incoming(self, origin: str, event: Event) -> StoredEvent:
        """Steps 4–6 and persistence for a validated event of a room this server is in.

        Raises ``Forbidden`` with the auth rule's reason if the event was rejected (it is
        stored as rejected first); returns the stored event otherwise (soft failed included).
        """
        if await self.rooms.rooms.get_room_version(event.room_id) is None:
            raise NotFound(f"Unknown room {event.room_id}")
        accepted: list[Event] = []
        async with self.rooms.locks.lock(event.room_id):
            stored = await self._process(origin, event, accepted, fetch_missing=True)
        await self._notify(accepted, origin)
        if stored.rejected_reason is not None:
            raise Forbidden(stored.rejected_reason)
        return stored

    async def _process(
        self, origin: str, event: Event, accepted: list[Event], *, fetch_missing: bool
    ) -> StoredEvent:
        """The pipeline for one event, the room lock held."""
        known = (await self.rooms.events.get_stored([event.event_id])).get(event.event_id)
        if known is not None:
            return known
        if fetch_missing:
            await self._fill_prev_gap(origin, event, accepted)
        state_before, base_group = await self._state_before(origin, event)
        # Step 4: the event's own auth_events.
        failure = await self._check_auth_events(origin, event)
        # Step 5: the state before the event.
        if failure is None:
            failure = check_auth(event, await self._auth_state(event, state_before))
        rejected = str(failure) if failure is not None else None
        room_id = event.room_id
        current = await self.rooms.state.get_current_state_ids(room_id)
        extremities = await self.rooms.events.get_forward_extremities(room_id)
        # Step 6: soft failure, against the current state (the resolved state of all forward
        # extremities).
        soft_failed = False
        if rejected is None and current != state_before:
            soft_failure = check_auth(event, await self._auth_state(event, current))
            soft_failed = soft_failure is not None
            if soft_failed:
                logger.info("Soft-failing %s: %s", event.event_id, soft_failure)
        state_after = dict(state_before)
        if event.is_state and rejected is None:
            state_after[event.state_tuple] = event.event_id
        entry = PersistEntry(
            event=event,
            state_after=state_after,
            base_group=base_group,
            rejected_reason=rejected,
            outlier=soft_failed,
        )
        if rejected is None and not soft_failed:
            prev = set(event.prev_event_ids)
            entry.new_extremities = sorted((set(extremities) - prev) | {event.event_id})
            if not set(extremities) <= prev:
                # The event does not follow every extremity: the room's current state is the
                # resolution of the current state and the state after the event.
                # (The state after the event holds the event itself, not stored yet.)
                entry.new_current_state = await self._resolve(
                    origin, event.room_version, [current, state_after], [event]
                )
        [stored] = await self.rooms.persister.persist([entry])
        if rejected is None and not soft_failed:
            accepted.append(event)
        else:
            logger.info("Event %s from %s: rejected=%s soft_failed=%s", event.event_id, origin,
                        rejected, soft_failed)  # fmt: skip
        return stored

    async def _notify(self, events: Sequence[Event], origin: str) -> None:
        if not events:
            return
        push = getattr(self.hs, "push", None)
        if push is not None:
            try:
                await push.process_events(events)
            except Exception:
                logger.exception("Push processing of received events failed")
        for listener in list(self.listeners):
            try:
                await listener(events, origin)
            except Exception:
                logger.exception("A received-events listener failed")

    # Missing prev events ("Backfilling and retrieving missing events") -----------------------

    async def _fill_prev_gap(self, origin: str, event: Event, accepted: list[Event]) -> None:
        have = await self.rooms.events.have_events(event.prev_event_ids)
        if all(p in have for p in event.prev_event_ids):
            return
        room_id = event.room_id
        extremities = await self.rooms.events.get_forward_extremities(room_id)
        min_depth = await self._min_extremity_depth(extremities)
        pdus = await self.remote.get_missing_events(
            origin,
            room_id,
            earliest_events=extremities,
            latest_events=[event.event_id],
            min_depth=min_depth,
        )
        fetched: list[Event] = []
        for pdu in pdus:
            try:
                fetched.append(
                    await self.validate_incoming(origin, room_id, pdu, event.room_version)
                )
            except MatrixProtocolError as exc:
                logger.info("Dropping a missing event from %s: %s", origin, exc.message)
        # Oldest first, so that each event's prev events are there when it is processed; any
        # remaining gap is bridged with the state from /state_ids.
        for missing in sorted(fetched, key=lambda e: (e.depth, e.event_id)):
            if missing.event_id == event.event_id:
                continue
            await self._process(origin, missing, accepted, fetch_missing=False)

    async def _min_extremity_depth(self, extremities: Sequence[str]) -> int:
        events = await self.rooms.events.get_events(extremities, allow_rejected=True)
        return min((e.depth for e in events.values()), default=0)

    # State before an event (step 5): see prev_state.py ---------------------------------------

    async def _state_before(self, origin: str, event: Event) -> tuple[StateMap, int | None]:
        return await prev_state.state_before(self, origin, event)

    async def _resolve(
        self,
        origin: str,
        room_version: RoomVersion,
        state_sets: Sequence[StateMap],
        pending: Sequence[Event] = (),
    ) -> StateMap:
        return await prev_state.resolve(self, origin, room_version, state_sets, pending)

    # Step 4: the event's own auth events ------------------------------------------------------

    async def _check_auth_events(self, origin: str, event: Event) -> AuthFailure | None:
        wanted = list(event.auth_event_ids)
        rv = event.room_version
        create_id = "$" + event.room_id[1:] if rv.room_id_is_create_hash else None
        if create_id is not None and not event.is_create:
            wanted.append(create_id)
        stored = await self.rooms.events.get_stored(wanted)
        if any(i not in stored for i in wanted):
            # "Retrieving event authorisation information": ask the origin for the auth chain.
            chain = await self.remote.get_event_auth(origin, event.room_id, event.event_id)
            await outliers.store_outlier_pdus(self, origin, event.room_id, rv, chain)
            await self.fetch_and_store_outliers(origin, event.room_id, rv, wanted)
            stored = await self.rooms.events.get_stored(wanted)
        return outliers.check_against_cited(event, stored, create_id)

    async def _auth_state(self, event: Event, state: StateMap) -> dict[StateKey, Event]:
        """The events of ``state`` the auth rules read for ``event`` (and the create event)."""
        keys = auth_types_for_event(
            event.room_version, event.type, event.state_key, event.sender, event.content
        )
        wanted = {k: state[k] for k in {*keys, CREATE} if k in state}
        events = await self.rooms.events.get_events(wanted.values())
        return {k: events[v] for k, v in wanted.items() if v in events}

    # Outliers: see outliers.py ---------------------------------------------------------------

    async def fetch_and_store_outliers(
        self, origin: str, room_id: str, room_version: RoomVersion, event_ids: Iterable[str]
    ) -> None:
        """Fetch the events among ``event_ids`` we lack and store them as outliers."""
        await outliers.fetch_and_store_outliers(self, origin, room_id, room_version, event_ids)

    async def store_outliers(self, origin: str, events: Sequence[Event]) -> list[StoredEvent]:
        """Store validated events whose state is unknown (step 4 only)."""
        return await outliers.store_outliers(self, origin, events)

    # ACLs -------------------------------------------------------------------------------------

    async def server_allowed(self, server_name: str, room_id: str) -> bool:
        """Whether the room's current ``m.room.server_acl`` lets ``server_name`` in ("Server
        Access Control Lists", all room versions)."""
        acl_id = await self.rooms.state.get_current_state_event_id(room_id, *SERVER_ACL)
        if acl_id is None:
            return True
        acl = await self.rooms.events.get_event(acl_id)
        if acl is None:
            return True
        return server_allowed_by_acl(server_name, acl.content)

    # Joining a remote room --------------------------------------------------------------------

    async def process_join_response(
        self,
        origin: str,
        room_version: RoomVersion,
        join_event: Event,
        state: list[JsonDict],
        auth_chain: list[JsonDict],
    ) -> None:
        """Our user joined a remote room: store the returned state and auth chain as outliers,
        then the join with that state as the room's current state; then backfill."""
        from transom.services.federation.join_response import persist_join

        await persist_join(self, origin, room_version, join_event, state, auth_chain)
        # "Backfilling and retrieving missing events": the history before the join, so that
        # /messages shows it (in the background; the join is complete without it).
        self.backfiller.start_after_join(origin, join_event)
