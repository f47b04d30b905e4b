"""What one ``/sync`` response is built from, and the helpers every section shares: loading
events, history visibility over a batch of events, and serialising timelines.

Spec: client-server API "Syncing" and "Room History Visibility". Room versions: all (history
visibility and the client event format do not depend on the version; redaction does, and is
applied by ``RoomService.serialize``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from transom.core.events import Event, JsonDict, StateKey
from transom.services.filtering import Filter
from transom.services.rooms.visibility import can_see_event
from transom.services.sync.tokens import SyncToken
from transom.storage.events import StoredEvent
from transom.storage.state import StateMap

if TYPE_CHECKING:
    from transom.services.rooms.service import RoomService
    from transom.storage.sync import SyncQueries


@dataclass
class SyncRequest:
    """One sync: who, from where (``since``), up to where (``now``), and how."""

    user_id: str
    device_id: str | None
    since: SyncToken | None
    now: int
    typing_serial: int
    filter: Filter
    full_state: bool = False
    use_state_after: bool = False
    # Per room: member state keys whose events the device already holds (lazy-loading).
    sent_members: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def since_stream(self) -> int | None:
        return self.since.stream if self.since is not None else None


class Loader:
    """Event, state and visibility reads shared by the sections of one response."""

    def __init__(self, rooms: RoomService, queries: SyncQueries) -> None:
        self.rooms = rooms
        self.queries = queries

    async def stored(self, event_ids: Sequence[str]) -> dict[str, StoredEvent]:
        return await self.rooms.events.get_stored(event_ids)

    async def events(self, event_ids: Sequence[str]) -> dict[str, Event]:
        return await self.rooms.events.get_events(event_ids)

    async def state_before(self, event: Event) -> StateMap:
        return await self.rooms.state.get_state_before(event) or {}

    async def state_after(self, event_id: str) -> StateMap:
        return await self.rooms.state.get_state_after(event_id) or {}

    async def state_at_stream(self, room_id: str, stream: int) -> StateMap:
        """The room's state after its last event at or before ``stream``."""
        found = await self.queries.recent_event_ids([room_id], after=None, before=stream, limit=1)
        rows = found.get(room_id)
        return await self.state_after(rows[0][1]) if rows else {}

    async def visible(
        self, user_id: str, events: Sequence[Event], current_membership: str | None
    ) -> list[Event]:
        """The events ``user_id`` may see (spec "Room History Visibility"), in one batch:
        state groups in one query, state events through the cache."""
        if not events:
            return []
        groups = await self.rooms.state.get_state_groups([e.event_id for e in events])
        keys = (("m.room.history_visibility", ""), ("m.room.member", user_id))
        wanted: dict[str, dict[StateKey, str]] = {}
        for event in events:
            group = groups.get(event.event_id)
            if group is None:
                continue
            state = await self.rooms.state.get_group_state(group)
            wanted[event.event_id] = {k: state[k] for k in keys if k in state}
        ids = {i for m in wanted.values() for i in m.values()}
        loaded = await self.events(list(ids))
        result = []
        for event in events:
            ids_at = wanted.get(event.event_id)
            if ids_at is None:
                continue
            state_at = {k: loaded[v] for k, v in ids_at.items() if v in loaded}
            if can_see_event(event, state_at, user_id, current_membership):
                result.append(event)
        return result

    async def serialize_timeline(
        self,
        request: SyncRequest,
        events: Sequence[Event],
        start_state: Mapping[StateKey, str],
    ) -> list[JsonDict]:
        """Client events with ``unsigned.transaction_id`` for the requesting device's own
        events (spec "Transaction identifiers") and ``prev_content``/``prev_sender``/
        ``replaces_state`` for state events, walking the timeline from ``start_state``."""
        serialized = await self.rooms.serialize(events)
        own = [e.event_id for e in events if e.sender == request.user_id]
        txn_ids: dict[str, str] = {}
        if own and request.device_id is not None:
            txn_ids = await self.queries.txn_ids(request.user_id, request.device_id, own)
        running = dict(start_state)
        replaced: dict[str, str] = {}
        for event in events:
            if event.is_state:
                previous = running.get(event.state_tuple)
                if previous is not None and previous != event.event_id:
                    replaced[event.event_id] = previous
                running[event.state_tuple] = event.event_id
        previous_events = await self.events(list(replaced.values())) if replaced else {}
        for event, client in zip(events, serialized, strict=True):
            unsigned = client.setdefault("unsigned", {})
            if event.event_id in txn_ids:
                unsigned["transaction_id"] = txn_ids[event.event_id]
            prev_id = replaced.get(event.event_id)
            if prev_id is not None:
                unsigned["replaces_state"] = prev_id
                prev = previous_events.get(prev_id)
                if prev is not None:
                    unsigned["prev_content"] = dict(prev.content)
                    unsigned["prev_sender"] = prev.sender
        return serialized
