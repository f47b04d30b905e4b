"""Backfill: fetching a room's earlier history from another server and storing it as timeline
history.

Spec: server-server API "Backfilling and retrieving missing events" (``GET /backfill/{roomId}``
returns the PDUs given in ``v`` and those preceding them, up to ``limit``) and "Checks performed
on receipt of a PDU" (every backfilled PDU passes steps 1–5; all room versions). Client-server
API "Getting events for a room" (``/messages`` pages through what backfill stored).

Backfilled events are stored oldest first with NEGATIVE stream orderings (``StreamAllocator.
write_backwards``): ``/messages`` orders them by depth with the rest of the timeline, while an
incremental sync, which reads positions above its ``since`` token (never negative), never sees
them. Each is stored with the state after it (the state after its prev events when this server
has that, else ``/state_ids`` at the event from the server that sent it); an event whose state
cannot be had stays an outlier. Backfill never moves the room's current state or forward
extremities, and sends no notifications: this is history, not news.

Invariant: the room's lock is held while the history is stored, as for every write to the DAG.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from transom.core.auth import check_auth
from transom.core.errors import MatrixProtocolError
from transom.core.events import Event
from transom.services.federation import outliers, prev_state
from transom.storage.events import StoredEvent
from transom.storage.persist import PersistEntry
from transom.storage.state import StateMap

if TYPE_CHECKING:
    from transom.services.federation.events import FederationEventHandler

logger = logging.getLogger(__name__)

# How much history to fetch right after a remote join, and per exhausted /messages page.
JOIN_BACKFILL_LIMIT = 50
PAGE_BACKFILL_LIMIT = 50
# At most this many backward extremities in one /backfill request, and servers tried in turn.
MAX_BACKFILL_FROM = 20
MAX_SERVERS_TRIED = 3


class Backfiller:
    """``hs.federation_events.backfiller``."""

    def __init__(self, handler: FederationEventHandler) -> None:
        self.handler = handler
        self.rooms = handler.rooms
        self._tasks: set[asyncio.Task[None]] = set()

    # Entry points -----------------------------------------------------------------------------

    def start_after_join(self, origin: str, join_event: Event) -> None:
        """In the background: the history before our join, from the server that let us in."""
        prev = list(join_event.prev_event_ids)
        if not prev:
            return

        async def run() -> None:
            try:
                await self.backfill(origin, join_event.room_id, prev, JOIN_BACKFILL_LIMIT)
            except Exception:
                logger.exception("Backfill of %s after our join failed", join_event.room_id)

        task = asyncio.create_task(run(), name=f"backfill-{join_event.room_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Cancel background backfills (server shutdown)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def wait_idle(self) -> None:
        """Wait for the background backfills running now (tests)."""
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def backfill_room(self, room_id: str) -> bool:
        """``/messages`` ran out of local history: fetch earlier history from a server in the
        room. True if any new timeline event was stored."""
        server_name = self.handler.hs.server_name
        hosts = sorted(await self.rooms.state.get_joined_hosts(room_id) - {server_name})
        if not hosts:
            return False
        extremities = await self.rooms.pages.backward_extremities(room_id, MAX_BACKFILL_FROM)
        if not extremities:
            return False  # the history reaches the room's create event
        for host in hosts[:MAX_SERVERS_TRIED]:
            if await self.backfill(host, room_id, extremities, PAGE_BACKFILL_LIMIT):
                return True
        return False

    async def backfill(
        self, destination: str, room_id: str, from_ids: Sequence[str], limit: int
    ) -> list[StoredEvent]:
        """``/backfill`` from ``destination`` starting at ``from_ids``; the events that became
        timeline history, oldest first."""
        room_version = await self.rooms.rooms.get_room_version(room_id)
        if room_version is None:
            return []
        pdus = await self.handler.remote.backfill(destination, room_id, from_ids, limit)
        events: list[Event] = []
        for pdu in pdus:
            try:
                events.append(
                    await self.handler.validate_incoming(destination, room_id, pdu, room_version)
                )
            except MatrixProtocolError as exc:
                logger.info("Dropping a backfilled event from %s: %s", destination, exc.message)
        events = _ancestors(events, from_ids)
        if not events:
            return []
        async with self.rooms.locks.lock(room_id):
            return await self._store_history(destination, events)

    # Storing ----------------------------------------------------------------------------------

    async def _store_history(self, origin: str, events: Sequence[Event]) -> list[StoredEvent]:
        # Steps 1–4 for every new event: stored as outliers first, so that each one's auth
        # events and prev events are in the store whatever order the peer sent them in.
        await outliers.store_outliers(self.handler, origin, events)
        ids = [e.event_id for e in events]
        stored = await self.rooms.events.get_stored(ids)
        groups = await self.rooms.state.get_state_groups(ids)
        # Candidates: accepted outliers without state (soft-failed events have state and stay
        # out of the timeline; timeline events are already history).
        candidates = sorted(
            (
                s.event
                for s in stored.values()
                if s.outlier and s.rejected_reason is None and s.event.event_id not in groups
            ),
            key=lambda e: (e.depth, e.event_id),
        )
        entries: dict[str, PersistEntry] = {}
        for event in candidates:
            entry = await self._entry(origin, event, entries)
            if entry is not None:
                entries[event.event_id] = entry
        if not entries:
            return []
        return await self.rooms.persister.persist(list(entries.values()), backfilled=True)

    async def _entry(
        self, origin: str, event: Event, batch: dict[str, PersistEntry]
    ) -> PersistEntry | None:
        """The event as timeline history, checked against the state before it (step 5); None
        when that state cannot be had (it stays an outlier)."""
        state_sets: list[StateMap] = []
        base_group: int | None = None
        base_entry: PersistEntry | None = None
        groups = await self.rooms.state.get_state_groups(event.prev_event_ids)
        for prev_id in event.prev_event_ids:
            in_batch = batch.get(prev_id)
            if in_batch is not None and in_batch.state_after is not None:
                state_sets.append(in_batch.state_after)
                if base_entry is None and base_group is None:
                    base_entry = in_batch
            elif prev_id in groups:
                state_sets.append(await self.rooms.state.get_group_state(groups[prev_id]))
                if base_entry is None and base_group is None:
                    base_group = groups[prev_id]
            else:
                break
        else:
            if state_sets:
                state_before = await self._resolved(origin, event, state_sets)
                return await self._checked(event, state_before, base_group, base_entry)
        # The state after some prev event is unknown here: ask for the state before the event.
        remote = await prev_state.remote_state_at(
            self.handler, origin, event.room_id, event.room_version, event.event_id
        )
        if remote is None:
            logger.info("No state for backfilled %s: it stays an outlier", event.event_id)
            return None
        return await self._checked(event, remote, None, None)

    async def _resolved(self, origin: str, event: Event, state_sets: list[StateMap]) -> StateMap:
        if len(state_sets) == 1:
            return dict(state_sets[0])
        return await prev_state.resolve(self.handler, origin, event.room_version, state_sets)

    async def _checked(
        self,
        event: Event,
        state_before: StateMap,
        base_group: int | None,
        base_entry: PersistEntry | None,
    ) -> PersistEntry:
        # Step 5: authorised by the state before the event, else rejected (its state after is
        # then the state before). Step 6 (soft failure) is about current state and does not
        # apply to history.
        failure = check_auth(event, await self.handler._auth_state(event, state_before))
        if failure is not None:
            logger.info("Backfilled %s is rejected: %s", event.event_id, failure)
        state_after = dict(state_before)
        if event.is_state and failure is None:
            state_after[event.state_tuple] = event.event_id
        return PersistEntry(
            event=event,
            state_after=state_after,
            base_group=base_group,
            base_entry=base_entry,
            rejected_reason=str(failure) if failure is not None else None,
            update_current_state=False,
            replaces_outlier=True,
        )


def _ancestors(events: Sequence[Event], from_ids: Sequence[str]) -> list[Event]:
    """The events among ``events`` that are ``from_ids`` or precede them through prev events
    within the answer: ``/backfill`` returns those, and anything else a peer sends is not the
    history asked for (it may be newer than what we hold, which must come as live events)."""
    by_id = {e.event_id: e for e in events}
    kept: dict[str, Event] = {}
    frontier = list(from_ids)
    while frontier:
        event = by_id.get(frontier.pop())
        if event is not None and event.event_id not in kept:
            kept[event.event_id] = event
            frontier.extend(event.prev_event_ids)
    return list(kept.values())
