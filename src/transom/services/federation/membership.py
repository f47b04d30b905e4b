"""Joins, leaves and invites over federation, resident (serving) side.

Spec: server-server API "Joining Rooms" (``make_join`` with ``ver``: 400
``M_INCOMPATIBLE_ROOM_VERSION`` naming ``room_version`` when the room's version is not offered;
the template; ``send_join`` answers the state and auth chain before the join, and the resident
server sends the join to the other servers in the room), "Restricted rooms" (v8+: the resident
server co-signs a join naming one of its users in ``join_authorised_via_users_server``),
"Leaving Rooms (Rejecting Invites)" (``make_leave``/``send_leave``), "Inviting to a room" (the
invitee's server checks and signs the invite), "Server Access Control Lists" (every one of these
endpoints refuses a denied origin with 403). All room versions unless noted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from transom.core.errors import MatrixProtocolError
from transom.core.events import Event, JsonDict, StateKey
from transom.core.hashing import compute_event_id
from transom.core.pdu import parse_pdu
from transom.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from transom.core.signing import sign_event
from transom.core.stripped import strip_event
from transom.services.errors import BadJson, Forbidden, InvalidParam, MissingParam, NotFound
from transom.services.rooms.events import EventDraft
from transom.services.rooms.restricted import AUTHORISER_KEY, restricted_join_content
from transom.storage.persist import PersistEntry, upsert_local_membership

if TYPE_CHECKING:
    from transom.app import HomeServer

logger = logging.getLogger(__name__)

# Keys the joining/leaving server fills in itself (server-server API "Joining Rooms": it "is
# expected to add or replace the origin, origin_server_ts, and event_id").
TEMPLATE_DROPPED_KEYS = ("signatures", "hashes", "event_id", "origin", "unsigned")


class IncompatibleRoomVersion(MatrixProtocolError):
    """400 ``M_INCOMPATIBLE_ROOM_VERSION``; the answer carries ``room_version``."""

    errcode = "M_INCOMPATIBLE_ROOM_VERSION"

    def __init__(self, message: str, room_version: str) -> None:
        super().__init__(message)
        self.room_version = room_version


def server_of(user_id: str) -> str:
    return user_id.split(":", 1)[1] if ":" in user_id else ""


class FederationMembership:
    """``hs.federation_membership``: the resident side of the membership handshakes."""

    def __init__(self, hs: HomeServer) -> None:
        self.hs = hs
        self.rooms = hs.rooms
        self.server_name = hs.server_name

    # Shared checks ----------------------------------------------------------------------------

    async def _room_we_are_in(self, origin: str, room_id: str) -> RoomVersion:
        """The room's version; 404 unless a local user is joined, 403 for an ACL-denied origin."""
        room_version = await self.rooms.rooms.get_room_version(room_id)
        hosts = await self.rooms.state.get_joined_hosts(room_id) if room_version else set()
        if room_version is None or self.server_name not in hosts:
            raise NotFound(f"This server is not in room {room_id}")
        # "Server Access Control Lists": make_join, send_join, make_leave, send_leave, invite.
        if not await self.hs.federation_events.server_allowed(origin, room_id):
            raise Forbidden("Server is denied by the room's server ACL")
        return room_version

    async def _template(self, room_id: str, user_id: str, membership: str) -> JsonDict:
        """An unsigned member event built on the room's current state; 403 if the auth rules
        refuse it (a banned user, an invite-only room, ...)."""
        room_version = await self.rooms.rooms.get_room_version(room_id)
        assert room_version is not None
        content: JsonDict = {"membership": membership}
        async with self.rooms.locks.lock(room_id):
            context = await self.rooms.creator.load_context(room_id)
            if membership == "join":
                state = await self._state_events(context.state)
                content.update(
                    await restricted_join_content(
                        user_id,
                        state,
                        room_version,
                        membership_of=lambda u, r: self.rooms.membership.membership_of(r, u),
                        is_local=self.rooms.is_local_user,
                        server_in_room=self._server_in_room,
                    )
                )
            draft = EventDraft(user_id, "m.room.member", content, user_id)
            event = await self.rooms.creator.build_and_authorise(context, draft)
        return {k: v for k, v in event.pdu.items() if k not in TEMPLATE_DROPPED_KEYS}

    async def _server_in_room(self, room_id: str) -> bool:
        return self.server_name in await self.rooms.state.get_joined_hosts(room_id)

    async def _state_events(self, state_ids: dict[StateKey, str]) -> dict[StateKey, Event]:
        events = await self.rooms.events.get_events(state_ids.values())
        return {k: events[v] for k, v in state_ids.items() if v in events}

    async def _received_member_event(
        self,
        origin: str,
        room_id: str,
        event_id: str,
        pdu: Any,
        membership: str,
        room_version: RoomVersion,
    ) -> Event:
        """The checks of send_join/send_leave: the event is ``membership`` of its sender, who is
        on the origin server, in the room and with the event ID of the path; then steps 1-3 of
        "Checks performed on receipt of a PDU"."""
        if not isinstance(pdu, dict):
            raise BadJson("The event must be a JSON object")
        content = pdu.get("content")
        sender = pdu.get("sender")
        if pdu.get("type") != "m.room.member" or not isinstance(content, dict):
            raise BadJson("The event must be an m.room.member event")
        if content.get("membership") != membership:
            raise BadJson(f"The event's membership must be {membership!r}")
        if not isinstance(sender, str) or pdu.get("state_key") != sender:
            raise BadJson("The event's state_key must be its sender")
        if server_of(sender) != origin:
            raise Forbidden("The event's sender is not on the requesting server")
        if pdu.get("room_id") != room_id:
            raise BadJson("The event's room_id does not match the path")
        try:
            computed = compute_event_id(pdu, room_version)
        except MatrixProtocolError as exc:
            raise BadJson(exc.message) from None
        if computed != event_id:
            raise BadJson("The event ID does not match the path")
        if membership == "join":
            pdu = self._co_signed(pdu, room_version)
        return await self.hs.federation_events.validate_incoming(origin, room_id, pdu, room_version)

    def _co_signed(self, pdu: JsonDict, room_version: RoomVersion) -> JsonDict:
        """ "Restricted rooms" (v8+): the resident server of the user named in
        ``join_authorised_via_users_server`` signs the join. We sign before the signature checks
        of steps 1-3, which require that signature (``required_signers``)."""
        authoriser = pdu["content"].get(AUTHORISER_KEY)
        if not room_version.restricted_join or not isinstance(authoriser, str):
            return pdu
        if server_of(authoriser) != self.server_name:
            raise Forbidden("The join is authorised by a user of another server")
        if not isinstance(pdu.get("signatures"), dict):
            raise BadJson("The event's signatures must be an object")
        return sign_event(pdu, room_version, self.server_name, self.hs.signing_key)

    async def _accept(self, origin: str, event: Event) -> None:
        """Persist a received member event (403 with the auth rule's reason if rejected), then
        send it to the other servers in the room."""
        stored = await self.hs.federation_events.persist_incoming(origin, event)
        if stored.outlier:  # soft failed: auth against the current state failed
            raise Forbidden("The event is not allowed by the room's current state")
        others = await self.rooms.state.get_joined_hosts(event.room_id)
        await self.hs.federation_sender.send_pdu(event, others - {origin, self.server_name})

    async def _state_and_auth_chain(self, event: Event) -> tuple[list[JsonDict], list[JsonDict]]:
        """The room state before ``event`` and the full auth chain of that state (send_join)."""
        after = await self.rooms.state.get_state_after(event.event_id) or {}
        before = dict(after)
        if before.get(event.state_tuple) == event.event_id:
            del before[event.state_tuple]
            previous = await self.rooms.state.get_state_before(event)
            if previous is not None and event.state_tuple in previous:
                before[event.state_tuple] = previous[event.state_tuple]
        state = await self.rooms.events.get_events(before.values())
        chain = await self.auth_chain([*state.values(), event])
        return [e.pdu for e in state.values()], [e.pdu for e in chain]

    async def auth_chain(self, events: Sequence[Event]) -> list[Event]:
        """Every auth event reachable from ``events`` (not the events themselves)."""
        seen: dict[str, Event] = {}
        frontier = {a for e in events for a in e.auth_event_ids}
        while frontier:
            found = await self.rooms.events.get_events(frontier - set(seen))
            seen.update(found)
            frontier = {a for e in found.values() for a in e.auth_event_ids} - set(seen)
        return sorted(seen.values(), key=lambda e: (e.depth, e.event_id))

    # Joining ----------------------------------------------------------------------------------

    async def make_join(
        self, origin: str, room_id: str, user_id: str, versions: Sequence[str]
    ) -> JsonDict:
        room_version = await self._room_we_are_in(origin, room_id)
        # "Joining Rooms": ``ver`` defaults to ["1"] when the joining server sends none.
        if room_version.identifier not in (versions or ["1"]):
            raise IncompatibleRoomVersion(
                "Your homeserver does not support the features required to join this room",
                room_version.identifier,
            )
        if server_of(user_id) != origin:
            raise Forbidden("The user is not on the requesting server")
        event = await self._template(room_id, user_id, "join")
        return {"room_version": room_version.identifier, "event": event}

    async def send_join(self, origin: str, room_id: str, event_id: str, pdu: Any) -> JsonDict:
        """The v2 answer; v1 wraps it as ``[200, answer]``."""
        room_version = await self._room_we_are_in(origin, room_id)
        event = await self._received_member_event(
            origin, room_id, event_id, pdu, "join", room_version
        )
        # "Restricted rooms" (v8+): co-signed by us in _received_member_event; sent back.
        signed = room_version.restricted_join and isinstance(event.content.get(AUTHORISER_KEY), str)
        await self._accept(origin, event)
        state, auth_chain = await self._state_and_auth_chain(event)
        hosts = await self.rooms.state.get_joined_hosts(room_id)
        answer: JsonDict = {
            "origin": self.server_name,
            "state": state,
            "auth_chain": auth_chain,
            "members_omitted": False,
            "servers_in_room": sorted(hosts),
        }
        if signed:
            answer["event"] = event.pdu
        return answer

    # Leaving ----------------------------------------------------------------------------------

    async def make_leave(self, origin: str, room_id: str, user_id: str) -> JsonDict:
        room_version = await self._room_we_are_in(origin, room_id)
        if server_of(user_id) != origin:
            raise Forbidden("The user is not on the requesting server")
        event = await self._template(room_id, user_id, "leave")
        return {"room_version": room_version.identifier, "event": event}

    async def send_leave(self, origin: str, room_id: str, event_id: str, pdu: Any) -> None:
        room_version = await self._room_we_are_in(origin, room_id)
        event = await self._received_member_event(
            origin, room_id, event_id, pdu, "leave", room_version
        )
        await self._accept(origin, event)

    # Invites ----------------------------------------------------------------------------------

    async def on_invite(
        self,
        origin: str,
        room_id: str,
        event_id: str,
        room_version_id: Any,
        pdu: Any,
        invite_room_state: Any,
    ) -> JsonDict:
        """Check an invite of one of our users, sign it and return it ("Inviting to a room").

        When this server is not in the room, the invite is kept as an outlier with an
        out-of-band membership carrying the stripped state, so /sync shows it."""
        room_version = KNOWN_ROOM_VERSIONS.get(room_version_id) if isinstance(
            room_version_id, str
        ) else None  # fmt: skip
        if room_version is None:
            raise IncompatibleRoomVersion(
                f"Room version {room_version_id!r} is not supported", str(room_version_id)
            )
        if not isinstance(pdu, dict) or pdu.get("type") != "m.room.member":
            raise InvalidParam("The event must be an m.room.member event")
        content = pdu.get("content")
        if not isinstance(content, dict) or content.get("membership") != "invite":
            raise InvalidParam("The event's membership must be 'invite'")
        sender, target = pdu.get("sender"), pdu.get("state_key")
        if not isinstance(sender, str) or server_of(sender) != origin:
            raise InvalidParam("The event's sender is not on the requesting server")
        if not isinstance(target, str) or not self.rooms.is_local_user(target):
            raise InvalidParam("The invited user is not on this server")
        if not await self.hs.store.accounts.get_user(target):
            raise NotFound(f"Unknown user {target}")
        if pdu.get("room_id") != room_id:
            raise InvalidParam("The event's room_id does not match the path")
        try:
            computed = compute_event_id(pdu, room_version)
        except MatrixProtocolError as exc:
            raise InvalidParam(exc.message) from None
        if computed != event_id:
            raise InvalidParam("The event ID does not match the path")
        known_version = await self.rooms.rooms.get_room_version(room_id)
        if known_version is not None and not await self.hs.federation_events.server_allowed(
            origin, room_id
        ):
            raise Forbidden("Server is denied by the room's server ACL")
        try:
            event = await self.hs.federation_events.validate_incoming(
                origin, room_id, pdu, room_version
            )
        except Forbidden as exc:
            raise InvalidParam(exc.message) from None
        stripped = self._invite_state(room_id, room_version, invite_room_state)
        signed_pdu = sign_event(event.pdu, room_version, self.server_name, self.hs.signing_key)
        signed = Event(signed_pdu, room_version, event.event_id)
        hosts = await self.rooms.state.get_joined_hosts(room_id) if known_version else set()
        if self.server_name not in hosts:
            # Not in the room: the invite reaches us only here, so keep it out of band.
            await self.record_out_of_band(signed, stripped, via_server=origin)
        return signed.pdu

    def _invite_state(
        self, room_id: str, room_version: RoomVersion, invite_room_state: Any
    ) -> list[JsonDict]:
        """``invite_room_state`` as stripped state for clients.

        v1.16: entries MUST be PDUs of the room's version and include ``m.room.create``;
        servers SHOULD refuse otherwise in room versions 12+ and only warn in 1-11 while the
        ecosystem migrates. Stripped (four-key) entries are accepted there for older peers."""
        if invite_room_state is None:
            invite_room_state = []
        if not isinstance(invite_room_state, list):
            raise InvalidParam("invite_room_state must be a list")
        strict = room_version.room_id_is_create_hash  # room versions 12+
        stripped: list[JsonDict] = []
        has_create = False
        for entry in invite_room_state:
            if not isinstance(entry, dict):
                raise InvalidParam("invite_room_state entries must be objects")
            try:
                event = parse_pdu(entry, room_version)
            except MatrixProtocolError as exc:
                if strict:
                    raise InvalidParam(f"invite_room_state entry is not a PDU: {exc}") from None
                logger.warning("Invite to %s carries a stripped state entry: %s", room_id, exc)
                if isinstance(entry.get("type"), str) and isinstance(entry.get("content"), dict):
                    stripped.append({k: entry[k] for k in ("type", "state_key", "sender",
                                                           "content") if k in entry})  # fmt: skip
                    has_create |= entry.get("type") == "m.room.create"
                continue
            if event.room_id != room_id:
                raise InvalidParam("invite_room_state holds an event of another room")
            has_create |= event.is_create
            stripped.append(strip_event(event))
        if not has_create:
            if strict:
                raise MissingParam("invite_room_state must contain the m.room.create event")
            logger.warning("Invite to %s has no m.room.create in invite_room_state", room_id)
        return stripped

    async def record_out_of_band(
        self, event: Event, stripped: list[JsonDict] | None, *, via_server: str | None
    ) -> None:
        """Store a member event of a room we are not in as an outlier, and the local target's
        membership out of band (sync shows it under ``invite``/``leave``)."""
        assert event.state_key is not None and event.membership is not None
        if not await self.rooms.events.have_events([event.event_id]):
            await self.rooms.persister.persist(
                [PersistEntry(event=event, state_after=None, outlier=True)]
            )
        target, membership = event.state_key, event.membership

        async def write(conn: Any, positions: list[int]) -> None:
            await upsert_local_membership(
                conn, target, event.room_id, membership, event.event_id, positions[0],
                outofband=True, stripped_state=stripped, via_server=via_server,
            )  # fmt: skip

        await self.rooms.streams.write(1, write)
