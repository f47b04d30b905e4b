"""The rooms facade: what the client-server API handlers call for rooms.

Composes the event pipeline, room creation, membership and reads with history visibility.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from transom.core.events import Event, JsonDict, StateKey
from transom.core.redaction import redact
from transom.services.clock import Clock
from transom.services.errors import Forbidden, InvalidParam, NotFound, UnknownError
from transom.services.rooms.creation import RoomCreator
from transom.services.rooms.events import EventCreator
from transom.services.rooms.locks import RoomLocks
from transom.services.rooms.membership import MembershipService
from transom.services.rooms.redaction import RedactionChecker
from transom.services.rooms.restricted import restricted_join_content, restricted_rules
from transom.services.rooms.visibility import can_see_event, history_visibility
from transom.storage.caches import FifoCache
from transom.storage.events import EventStore
from transom.storage.pagination import PaginationStore
from transom.storage.persist import EventPersister, StreamAllocator
from transom.storage.profiles import ProfileStore
from transom.storage.rooms import RoomStore
from transom.storage.state import StateStore

# Client forms kept (a few initial syncs' worth of events; each shares its content with the
# cached event).
CLIENT_FORM_CACHE_SIZE = 20_000


class Directory:
    """Resolving room IDs and aliases (client-server API "Room aliases")."""

    def __init__(self, rooms: RoomStore, server_name: str = "") -> None:
        self.rooms = rooms
        self.server_name = server_name
        # Federation queries (``resolve_remote_alias``), wired by the composition root.
        self.remote: Any = None

    async def resolve_room(self, room_id_or_alias: str) -> str:
        return (await self.resolve_room_and_servers(room_id_or_alias))[0]

    async def resolve_room_and_servers(self, room_id_or_alias: str) -> tuple[str, list[str]]:
        """The room ID, and for a remote alias the servers its directory server named
        (server-server API "Querying for information": ``/query/directory``)."""
        if room_id_or_alias.startswith("!"):
            return room_id_or_alias, []
        if room_id_or_alias.startswith("#"):
            found = await self.rooms.get_alias(room_id_or_alias)
            if found is not None:
                return found[0], []
            remote = not room_id_or_alias.endswith(":" + self.server_name)
            if remote and self.remote is not None:
                result: tuple[str, list[str]] = await self.remote.resolve_remote_alias(
                    room_id_or_alias
                )
                return result
            raise NotFound(f"Room alias {room_id_or_alias} not found")
        raise InvalidParam(f"{room_id_or_alias!r} is neither a room ID nor a room alias")


class RoomService:
    def __init__(
        self,
        *,
        server_name: str,
        signing_key: Any,
        clock: Clock,
        db: Any,
        profiles: ProfileStore,
    ) -> None:
        self.server_name = server_name
        self.clock = clock
        self.events = EventStore(db)
        self.state = StateStore(db)
        self.rooms = RoomStore(db)
        self.profiles = profiles
        self.streams = StreamAllocator(db)
        self.persister = EventPersister(
            db, self.events, self.state, self.streams, self.is_local_user
        )
        self.locks = RoomLocks()
        self.creator = EventCreator(
            server_name=server_name,
            signing_key=signing_key,
            clock=clock,
            rooms=self.rooms,
            events=self.events,
            state=self.state,
            persister=self.persister,
            locks=self.locks,
        )
        self.membership = MembershipService(
            self.creator, self.state, profiles, server_name=server_name
        )
        self.room_creator = RoomCreator(
            self.creator, profile_lookup=self.membership.profile_content
        )
        self.directory = Directory(self.rooms, server_name)
        # Joins, invites and leaves through other servers (``RemoteMembership``), wired by the
        # composition root.
        self.remote: Any = None
        self.pages = PaginationStore(db)
        self.redactions = RedactionChecker(self.events, self.state, self.pages, self.streams)
        # ClientEvent without ``unsigned``, and origin_server_ts: event ID -> form of the event
        # as sent; (event ID, redaction ID) -> form of the event redacted by that redaction.
        self._client_forms: FifoCache[str, tuple[JsonDict, int]] = FifoCache(CLIENT_FORM_CACHE_SIZE)
        self._redacted_forms: FifoCache[tuple[str, str], tuple[JsonDict, int]] = FifoCache(
            CLIENT_FORM_CACHE_SIZE // 10
        )

    async def setup(self) -> None:
        await self.streams.setup()
        await self.persister.setup()

    def is_local_user(self, user_id: str) -> bool:
        return user_id.endswith(":" + self.server_name)

    # Membership -------------------------------------------------------------------------------

    async def join(
        self,
        user_id: str,
        room_id: str,
        *,
        reason: str | None = None,
        via: Sequence[str] = (),
    ) -> Event:
        room_version = await self.rooms.get_room_version(room_id)
        in_room = room_version is not None and self.server_name in (
            await self.state.get_joined_hosts(room_id)
        )
        if not in_room and self.remote is not None:
            # Server-server API "Joining Rooms": through the ``via`` servers, the server that
            # invited us, then the room ID's server (v1-v11 room IDs name one).
            local = await self.state.get_local_membership(user_id, room_id)
            servers = [*via, local.via_server if local and local.via_server else ""]
            if ":" in room_id:
                servers.append(room_id.split(":", 1)[1])
            event: Event = await self.remote.join(user_id, room_id, servers, reason=reason)
            return event
        if room_version is None:
            raise NotFound("Unknown room: this server is not in it")
        # "Restricted rooms" (v8+; knock_restricted v10+): name a local authoriser if needed.
        extra: JsonDict = {}
        rules_id = await self.state.get_current_state_event_id(room_id, "m.room.join_rules", "")
        rules = await self.events.get_event(rules_id) if rules_id else None
        if rules is not None and rules.content.get("join_rule") in restricted_rules(room_version):
            state = await self._state_events(await self.state.get_current_state_ids(room_id))
            extra = await restricted_join_content(
                user_id,
                state,
                room_version,
                membership_of=lambda user, room: self.membership.membership_of(room, user),
                is_local=self.is_local_user,
            )
        return await self.membership.change(
            user_id, room_id, user_id, "join", reason=reason, extra=extra
        )

    async def invite(
        self, sender: str, room_id: str, target: str, *, reason: str | None = None
    ) -> Event:
        """Invite ``target``; a user of another server must sign the invite first
        (server-server API "Inviting to a room")."""
        if not self.is_local_user(target) and self.remote is not None:
            if await self.rooms.get_room_version(room_id) is None:
                raise NotFound("Unknown room")
            event: Event = await self.remote.invite(sender, room_id, target, reason=reason)
            return event
        return await self.membership.change(sender, room_id, target, "invite", reason=reason)

    async def leave(self, user_id: str, room_id: str, *, reason: str | None = None) -> None:
        """Leave, reject an invite or rescind a knock. For a room this server is not in (an
        out-of-band invite or knock) the leave goes through a resident server
        (server-server API "Leaving Rooms (Rejecting Invites)")."""
        local = await self.state.get_local_membership(user_id, room_id)
        remote = local is not None and local.outofband and self.remote is not None
        if remote and local is not None and local.membership in ("invite", "knock"):
            await self.remote.leave(user_id, room_id, reason=reason)
            return
        await self.membership.change(user_id, room_id, user_id, "leave", reason=reason)

    async def unban(self, sender: str, room_id: str, target: str, *, reason: str | None) -> Event:
        if await self.membership.membership_of(room_id, target) != "ban":
            raise Forbidden(f"{target} is not banned")
        return await self.membership.change(sender, room_id, target, "leave", reason=reason)

    async def forget(self, user_id: str, room_id: str) -> None:
        local = await self.state.get_local_membership(user_id, room_id)
        if local is None:
            raise NotFound("Unknown room")
        if local.membership in ("join", "invite", "knock"):
            raise UnknownError(f"User {user_id} is in room {room_id}")
        # Client-server API "Leaving rooms", /forget: the room leaves the user's /sync and its
        # history is no longer readable by them (see visible_state, can_see, /messages).
        await self.state.set_forgotten(user_id, room_id)

    # Reads ------------------------------------------------------------------------------------

    async def _state_events(self, state_ids: dict[StateKey, str]) -> dict[StateKey, Event]:
        events = await self.events.get_events(state_ids.values())
        return {k: events[v] for k, v in state_ids.items() if v in events}

    async def visible_state(
        self, user_id: str, room_id: str, *, joined_only: bool = False
    ) -> dict[StateKey, Event]:
        """The state a user may read: current state when joined (or world-readable), the state
        when they left otherwise; 403 for anyone else (knockers and invitees included)."""
        if await self.rooms.get_room_version(room_id) is None:
            raise Forbidden("You are not in this room")
        current_ids = await self.state.get_current_state_ids(room_id)
        current = await self._state_events(current_ids)
        member = current.get(("m.room.member", user_id))
        membership = member.membership if member is not None else None
        if membership == "join":
            return current
        if not joined_only and history_visibility(current) == "world_readable":
            return current
        if (
            not joined_only
            and member is not None
            and membership in ("leave", "ban")
            and not await self.state.has_forgotten(user_id, room_id)
        ):
            left_state = await self.state.get_state_after(member.event_id)
            if left_state is not None and await self._was_joined_before(member):
                return await self._state_events(left_state)
        raise Forbidden("You are not in this room")

    async def _was_joined_before(self, member_event: Event) -> bool:
        before = await self.state.get_state_before(member_event)
        if before is None:
            return False
        prev_id = before.get(("m.room.member", member_event.state_key or ""))
        if prev_id is None:
            return False
        prev = await self.events.get_event(prev_id)
        return prev is not None and prev.membership == "join"

    async def visible_event(self, user_id: str, room_id: str, event_id: str) -> Event:
        event = await self.events.get_event(event_id)
        if event is None or event.room_id != room_id:
            raise NotFound("Event not found")
        if not await self.can_see(user_id, event):
            raise NotFound("Event not found")
        return event

    async def can_see(self, user_id: str, event: Event) -> bool:
        state_ids = await self.state.get_state_after(event.event_id)
        if state_ids is None:
            return False
        keys = {("m.room.history_visibility", ""), ("m.room.member", user_id)}
        state = await self._state_events({k: v for k, v in state_ids.items() if k in keys})
        current = await self.membership.membership_of(event.room_id, user_id)
        joined_after = False
        if current in ("leave", "ban"):
            if await self.state.has_forgotten(user_id, event.room_id):
                # A forgotten room's history is no longer readable (/forget), unless anyone may.
                return history_visibility(state) == "world_readable"
            last_join = await self.pages.last_join_stream(event.room_id, user_id)
            position = await self.events.get_stream_ordering(event.event_id)
            joined_after = last_join is not None and position is not None and last_join > position
        return can_see_event(event, state, user_id, current, joined_after=joined_after)

    # Serialisation ----------------------------------------------------------------------------

    async def serialize(self, events: Iterable[Event]) -> list[JsonDict]:
        """Client-format events, redacted where a redaction of them takes effect (see
        ``transom.services.rooms.redaction`` for the per-version rules)."""
        events = list(events)
        redactions = await self.redactions.effective_redactions(events)
        now = self.clock.time_msec()
        return [self.client_event(e, redactions.get(e.event_id), now=now) for e in events]

    def client_event(
        self, event: Event, redacted_by: Event | str | None = None, *, now: int | None = None
    ) -> JsonDict:
        """The client-server API's ClientEvent format.

        Everything but ``unsigned`` is built once per event and effective redaction, and
        cached: events are immutable, and a redaction taking effect later is another key, so a
        form cached before it is never served for the redacted event. Each call returns a
        fresh top-level dict and a fresh ``unsigned`` (with the per-request ``age``), which
        callers may extend. ``now``: the clock reading to compute ``age`` from (one per batch).
        """
        if now is None:
            now = self.clock.time_msec()
        if redacted_by is None:
            cached = self._client_forms.get(event.event_id)
            if cached is None:
                cached = _client_form(event, None)
                self._client_forms.put(event.event_id, cached)
        elif isinstance(redacted_by, Event):
            key = (event.event_id, redacted_by.event_id)
            cached = self._redacted_forms.get(key)
            if cached is None:
                cached = _client_form(event, redacted_by)
                self._redacted_forms.put(key, cached)
        else:
            cached = _client_form(event, redacted_by)  # only the redaction's ID: rare
        form, ts = cached
        result = form.copy()
        unsigned: JsonDict = {"age": max(0, now - ts)}
        if isinstance(redacted_by, Event):
            # "Redactions": unsigned.redacted_because is the redaction event itself.
            unsigned["redacted_because"] = self.client_event(redacted_by, now=now)
        elif redacted_by:
            unsigned["redacted_because"] = {"event_id": redacted_by}
        result["unsigned"] = unsigned
        return result


def _client_form(event: Event, redacted_by: Event | str | None) -> tuple[JsonDict, int]:
    """The ClientEvent fields of ``event`` except ``unsigned``, and its ``origin_server_ts``
    (client-server API "Room Event Format"; "Redactions" for a redacted event's content)."""
    pdu = redact(event.pdu, event.room_version) if redacted_by else event.pdu
    ts = event.origin_server_ts
    result: JsonDict = {
        "content": pdu.get("content", {}),
        "event_id": event.event_id,
        "origin_server_ts": ts,
        "room_id": event.room_id,
        "sender": event.sender,
        "type": event.type,
    }
    if event.is_state:
        result["state_key"] = event.state_key
    if event.redacts is not None:
        # v11+: keep the top-level copy for older clients (v11 "Moving the redacts
        # property"); earlier versions: add the content copy for newer clients.
        result["redacts"] = event.redacts
        result["content"] = {**result["content"], "redacts": event.redacts}
    return result, ts
