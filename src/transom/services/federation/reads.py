"""What other servers may read of our rooms: events, state, auth chains, missing events, history.

Spec: server-server API "Retrieving events" (``/event``, ``/state``, ``/state_ids``), "Retrieving
event authorisation information" (``/event_auth``), "Backfilling and retrieving missing events"
(``/backfill``, ``/get_missing_events``) and "Server Access Control Lists" (all of these but
``/event`` are protected). All room versions.

Access: a room this server does not know is 404; a requesting server denied by the room's ACL,
or with no joined member in the room (unless its history is ``world_readable``), is 403. A
single event is also served to a server that had a member in the room at that event. Rejected
events are never served; soft-failed ones are (spec "Soft failure" note). Events redacted here
are served in their redacted form.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from transom.core.events import Event, JsonDict
from transom.core.redaction import redact
from transom.services.errors import Forbidden, NotFound
from transom.storage.state import StateMap

if TYPE_CHECKING:
    from transom.app import HomeServer
    from transom.services.federation.events import FederationEventHandler

# "get_missing_events": `limit` defaults to 10. Both walks are bounded whatever is asked.
DEFAULT_MISSING_LIMIT = 10
MAX_WALK_LIMIT = 100


class FederationReads:
    """``hs.federation_reads``."""

    def __init__(self, hs: HomeServer, events: FederationEventHandler) -> None:
        self.hs = hs
        self.rooms = hs.rooms
        self.events = events

    # Access -----------------------------------------------------------------------------------

    async def check_room_access(self, origin: str, room_id: str) -> None:
        if await self.rooms.rooms.get_room_version(room_id) is None:
            raise NotFound(f"Unknown room {room_id}")
        if not await self.events.server_allowed(origin, room_id):
            raise Forbidden("Server is denied by the room's server ACL")
        if origin in await self.rooms.state.get_joined_hosts(room_id):
            return
        if await self._history_visibility(room_id) == "world_readable":
            return
        raise Forbidden(f"Server {origin} is not in room {room_id}")

    async def _history_visibility(self, room_id: str) -> str:
        event_id = await self.rooms.state.get_current_state_event_id(
            room_id, "m.room.history_visibility"
        )
        event = await self.rooms.events.get_event(event_id) if event_id else None
        value = event.content.get("history_visibility") if event is not None else None
        return value if isinstance(value, str) else "shared"

    async def _event_in_room(self, room_id: str, event_id: str) -> Event:
        stored = (await self.rooms.events.get_stored([event_id])).get(event_id)
        if stored is None or stored.event.room_id != room_id or stored.rejected_reason:
            raise NotFound(f"Event {event_id} not found in room {room_id}")
        return stored.event

    # Serving PDUs -----------------------------------------------------------------------------

    async def serve(self, events: Iterable[Event]) -> list[JsonDict]:
        """PDUs as sent over federation: redacted where a redaction of them took effect."""
        events = list(events)
        redactions = await self.rooms.redactions.effective_redactions(events)
        return [
            redact(e.pdu, e.room_version) if redactions.get(e.event_id) else e.pdu for e in events
        ]

    def transaction(self, pdus: list[JsonDict]) -> JsonDict:
        """The ``Transaction`` shape of ``/event`` and ``/backfill`` answers."""
        return {
            "origin": self.hs.server_name,
            "origin_server_ts": self.hs.clock.time_msec(),
            "pdus": pdus,
        }

    # /event -----------------------------------------------------------------------------------

    async def get_event(self, origin: str, event_id: str) -> JsonDict:
        stored = (await self.rooms.events.get_stored([event_id])).get(event_id)
        if stored is None or stored.rejected_reason is not None:
            raise NotFound(f"Event {event_id} not found")
        event = stored.event
        if not await self.events.server_allowed(origin, event.room_id):
            raise Forbidden("Server is denied by the room's server ACL")
        if not await self._server_may_see(origin, event):
            raise Forbidden(f"Server {origin} may not see event {event_id}")
        return self.transaction(await self.serve([event]))

    async def _server_may_see(self, origin: str, event: Event) -> bool:
        if origin in await self.rooms.state.get_joined_hosts(event.room_id):
            return True
        if await self._history_visibility(event.room_id) == "world_readable":
            return True
        state = await self.rooms.state.get_state_after(event.event_id) or {}
        members = [v for (t, k), v in state.items() if t == "m.room.member" and
                   k.partition(":")[2] == origin]  # fmt: skip
        for member in (await self.rooms.events.get_events(members)).values():
            if member.membership in ("join", "invite", "knock"):
                return True
        return False

    # /state, /state_ids, /event_auth ----------------------------------------------------------

    async def state_before(self, event: Event) -> StateMap:
        """The state before ``event``: the resolved state after its prev events."""
        groups = await self.rooms.state.get_state_groups(event.prev_event_ids)
        sets = [await self.rooms.state.get_group_state(g) for g in groups.values()]
        if not sets:
            return {}
        return await self.events._resolve(self.hs.server_name, event.room_version, sets)

    async def state_ids(
        self, origin: str, room_id: str, event_id: str
    ) -> tuple[list[str], list[str]]:
        """(state event IDs before ``event_id``, the IDs of their full auth chain)."""
        await self.check_room_access(origin, room_id)
        event = await self._event_in_room(room_id, event_id)
        if await self.rooms.state.get_state_group(event_id) is None:
            raise NotFound(f"The state at {event_id} is not known")
        state = await self.state_before(event)
        chain = await self._auth_chain(state.values())
        return sorted(state.values()), sorted(chain)

    async def state(self, origin: str, room_id: str, event_id: str) -> JsonDict:
        state_ids, chain_ids = await self.state_ids(origin, room_id, event_id)
        events = await self.rooms.events.get_events([*state_ids, *chain_ids])
        return {
            "pdus": await self.serve(events[i] for i in state_ids if i in events),
            "auth_chain": await self.serve(events[i] for i in chain_ids if i in events),
        }

    async def event_auth(self, origin: str, room_id: str, event_id: str) -> JsonDict:
        try:
            await self.check_room_access(origin, room_id)
            event = await self._event_in_room(room_id, event_id)
        except Forbidden:
            # A member event about one of the origin's users (the kick or ban of its knocker,
            # sent to it) is also served, so that server can check who rejected the knock.
            event = await self._event_in_room(room_id, event_id)
            target = event.state_key if event.type == "m.room.member" else None
            if target is None or target.partition(":")[2] != origin:
                raise
            if not await self.events.server_allowed(origin, room_id):
                raise
        chain = await self._auth_chain(_auth_ids(event))
        events = await self.rooms.events.get_events(chain)
        ordered = sorted(events.values(), key=lambda e: (e.depth, e.event_id))
        return {"auth_chain": await self.serve(ordered)}

    async def _auth_chain(self, event_ids: Iterable[str]) -> set[str]:
        """``event_ids`` and everything in their auth chains (accepted events only). In v12
        the create event is implied by the room ID rather than cited; it belongs to every
        chain all the same (the auth rules need it)."""
        found: set[str] = set()
        frontier = set(event_ids)
        while frontier:
            events = await self.rooms.events.get_events(frontier)
            found |= events.keys()
            frontier = {a for e in events.values() for a in _auth_ids(e)} - found
        return found

    # /get_missing_events, /backfill -----------------------------------------------------------

    async def get_missing_events(
        self,
        origin: str,
        room_id: str,
        *,
        earliest: Sequence[str],
        latest: Sequence[str],
        limit: int,
        min_depth: int,
    ) -> JsonDict:
        """Events before ``latest`` back to ``earliest``, at ``min_depth`` or deeper, oldest
        first; neither the earliest nor the latest events themselves."""
        await self.check_room_access(origin, room_id)
        limit = max(0, min(limit, MAX_WALK_LIMIT))
        stop = set(earliest) | set(latest)
        starts = await self.rooms.events.get_events(latest)
        frontier = [p for e in starts.values() if e.room_id == room_id for p in e.prev_event_ids]
        found = await self._walk_back(room_id, frontier, stop, limit, min_depth)
        ordered = sorted(found, key=lambda e: (e.depth, e.event_id))
        return {"events": await self.serve(ordered)}

    async def backfill(
        self, origin: str, room_id: str, from_ids: Sequence[str], limit: int
    ) -> JsonDict:
        """Up to ``limit`` events from ``from_ids`` backwards, the given events included."""
        await self.check_room_access(origin, room_id)
        limit = max(0, min(limit, MAX_WALK_LIMIT))
        found = await self._walk_back(room_id, list(from_ids), set(), limit, 0)
        ordered = sorted(found, key=lambda e: (e.depth, e.event_id), reverse=True)
        return self.transaction(await self.serve(ordered))

    async def _walk_back(
        self, room_id: str, start: list[str], stop: set[str], limit: int, min_depth: int
    ) -> list[Event]:
        """Breadth-first along prev_events, newest depth first, skipping rejected events."""
        found: dict[str, Event] = {}
        seen = set(stop)
        frontier = [e for e in dict.fromkeys(start) if e not in seen]
        while frontier and len(found) < limit:
            seen.update(frontier)
            events = await self.rooms.events.get_events(frontier)
            batch = sorted(
                (e for e in events.values() if e.room_id == room_id and e.depth >= min_depth),
                key=lambda e: (-e.depth, e.event_id),
            )
            next_frontier: list[str] = []
            for event in batch:
                if len(found) >= limit:
                    break
                found[event.event_id] = event
                next_frontier.extend(p for p in event.prev_event_ids if p not in seen)
            frontier = list(dict.fromkeys(next_frontier))
        return list(found.values())


def _auth_ids(event: Event) -> list[str]:
    """The events an event's authorisation depends on: its auth_events, and in v12 (room IDs
    are create event hashes) the create event too."""
    ids = list(event.auth_event_ids)
    if event.room_version.room_id_is_create_hash and not event.is_create:
        ids.append("$" + event.room_id[1:])
    return ids
