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
from transom.services.rooms.visibility import can_see_event, history_visibility
from transom.services.sync.tokens import SyncToken
from transom.storage.caches import FifoCache
from transom.storage.events import StoredEvent
from transom.storage.state import StateMap
from transom.storage.sync import LIVE_AFTER

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
        # event ID -> state group of the state after it (immutable once written).
        self._groups: FifoCache[str, int] = FifoCache(100_000)
        # state group -> the history visibility in force in it.
        self._visibility: FifoCache[int, str] = FifoCache(100_000)

    async def state_groups(self, event_ids: Sequence[str]) -> dict[str, int]:
        """The state group after each event, from the cache or in one query."""
        found: dict[str, int] = {}
        missing: list[str] = []
        for event_id in dict.fromkeys(event_ids):
            group = self._groups.get(event_id)
            if group is None:
                missing.append(event_id)
            else:
                found[event_id] = group
        for start in range(0, len(missing), 500):
            loaded = await self.rooms.state.get_state_groups(missing[start : start + 500])
            for event_id, group in loaded.items():
                self._groups.put(event_id, group)
            found.update(loaded)
        return found

    async def prefetch_groups(self, events: Sequence[Event], event_ids: Sequence[str]) -> None:
        """Warm the group cache for the state before ``events`` and after ``event_ids``."""
        wanted = [p for e in events for p in e.prev_event_ids] + list(event_ids)
        await self.state_groups(wanted)

    async def stored(self, event_ids: Sequence[str]) -> dict[str, StoredEvent]:
        return await self.rooms.events.get_stored(event_ids)

    async def events(self, event_ids: Sequence[str]) -> dict[str, Event]:
        return await self.rooms.events.get_events(event_ids)

    async def state_before(self, event: Event) -> StateMap:
        prev_ids = list(event.prev_event_ids)
        if len(prev_ids) == 1:
            return await self.state_after(prev_ids[0])
        return await self.rooms.state.get_state_before(event) or {}

    async def state_after(self, event_id: str) -> StateMap:
        group = (await self.state_groups([event_id])).get(event_id)
        return await self.rooms.state.get_group_state(group) if group is not None else {}

    async def state_at_stream(self, room_id: str, stream: int) -> StateMap:
        """The room's state after its last event at or before ``stream``; backfilled history
        left out (it was not there at any position a client has seen: {} before the server's
        first event of the room)."""
        found = await self.queries.recent_event_ids(
            [room_id], after=LIVE_AFTER, before=stream, limit=1
        )
        rows = found.get(room_id)
        return await self.state_after(rows[0][1]) if rows else {}

    async def visible(
        self, user_id: str, events: Sequence[Event], current_membership: str | None
    ) -> list[Event]:
        """The events ``user_id`` may see (spec "Room History Visibility"), in one batch:
        state groups in one query, state events through the cache."""
        if not events:
            return []
        groups = await self.state_groups([e.event_id for e in events])
        visibilities = await self._visibilities(set(groups.values()))
        allowed: set[str] = set()
        check: list[Event] = []
        for event in events:
            group = groups.get(event.event_id)
            if group is None:
                continue
            visibility = visibilities[group]
            # "world_readable": anyone may see the event; "shared": "previous events are always
            # accessible to newly joined members", so a user joined now sees all of them.
            if visibility == "world_readable" or (
                visibility == "shared" and current_membership == "join"
            ):
                allowed.add(event.event_id)
            else:
                check.append(event)
        if check:
            allowed.update(await self._check_visible(user_id, check, groups, current_membership))
        return [e for e in events if e.event_id in allowed]

    async def _visibilities(self, groups: set[int]) -> dict[int, str]:
        """The history visibility in force in each state group (immutable, so cached)."""
        found: dict[int, str] = {}
        missing: list[int] = []
        for group in groups:
            visibility = self._visibility.get(group)
            if visibility is None:
                missing.append(group)
            else:
                found[group] = visibility
        if missing:
            key = ("m.room.history_visibility", "")
            ids: dict[int, str] = {}
            for group in missing:
                event_id = (await self.rooms.state.get_group_state(group)).get(key)
                if event_id is not None:
                    ids[group] = event_id
            loaded = await self.events(list(ids.values()))
            for group in missing:
                event = loaded.get(ids.get(group, ""))
                visibility = history_visibility({key: event} if event is not None else {})
                self._visibility.put(group, visibility)
                found[group] = visibility
        return found

    async def _check_visible(
        self,
        user_id: str,
        events: Sequence[Event],
        groups: Mapping[str, int],
        current_membership: str | None,
    ) -> list[str]:
        """IDs of those of ``events`` the user may see, by the whole algorithm."""
        keys = (("m.room.history_visibility", ""), ("m.room.member", user_id))
        wanted: dict[str, dict[StateKey, str]] = {}
        for event in events:
            state = await self.rooms.state.get_group_state(groups[event.event_id])
            wanted[event.event_id] = {k: state[k] for k in keys if k in state}
        ids = {i for m in wanted.values() for i in m.values()}
        loaded = await self.events(list(ids))
        result = []
        for event in events:
            state_at = {k: loaded[v] for k, v in wanted[event.event_id].items() if v in loaded}
            if can_see_event(event, state_at, user_id, current_membership):
                result.append(event.event_id)
        return result

    async def serialize_timeline(
        self,
        request: SyncRequest,
        events: Sequence[Event],
        start_state: Mapping[StateKey, str],
    ) -> list[JsonDict]:
        return (await self.serialize_timelines(request, [(events, start_state)]))[0]

    async def serialize_timelines(
        self,
        request: SyncRequest,
        timelines: Sequence[tuple[Sequence[Event], Mapping[StateKey, str]]],
    ) -> list[list[JsonDict]]:
        """Client events of several timelines in one batch, with ``unsigned.transaction_id``
        for the requesting device's own events (spec "Transaction identifiers") and
        ``prev_content``/``prev_sender``/``replaces_state`` for state events, found by
        walking each timeline from its ``start_state``."""
        everything = [e for events, _ in timelines for e in events]
        serialized = await self.rooms.serialize(everything)
        user_id = request.user_id
        txn_ids: dict[str, str] = {}
        if request.device_id is not None:
            own = [c["event_id"] for c in serialized if c["sender"] == user_id]
            if own:
                txn_ids = await self.queries.txn_ids(user_id, request.device_id, own)
        # Each state event's predecessor: walk each timeline from its start state, with the
        # changes made so far kept apart from it.
        replaced: dict[str, str] = {}
        offset = 0
        for events, start_state in timelines:
            changed: dict[StateKey, str] = {}
            for client in serialized[offset : offset + len(events)]:
                state_key = client.get("state_key")
                if state_key is None:
                    continue
                key = (client["type"], state_key)
                event_id = client["event_id"]
                previous = changed.get(key) or start_state.get(key)
                if previous is not None and previous != event_id:
                    replaced[event_id] = previous
                changed[key] = event_id
            offset += len(events)
        previous_events = await self.events(list(replaced.values())) if replaced else {}
        if txn_ids or replaced:
            for client in serialized:
                event_id = client["event_id"]
                txn_id = txn_ids.get(event_id)
                prev_id = replaced.get(event_id)
                if txn_id is None and prev_id is None:
                    continue
                unsigned = client["unsigned"]
                if txn_id is not None:
                    unsigned["transaction_id"] = txn_id
                if prev_id is not None:
                    unsigned["replaces_state"] = prev_id
                    prev = previous_events.get(prev_id)
                    if prev is not None:
                        unsigned["prev_content"] = dict(prev.content)
                        unsigned["prev_sender"] = prev.sender
        result: list[list[JsonDict]] = []
        offset = 0
        for events, _ in timelines:
            result.append(serialized[offset : offset + len(events)])
            offset += len(events)
        return result
