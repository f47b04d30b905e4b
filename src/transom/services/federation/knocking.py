"""Knocking over federation, as the room's server and as the knocker's server.

Spec: server-server API "Knocking upon a room" (``make_knock``/``send_knock``,
``data/api/server-server/knocks.yaml``; room versions 7+, the ``knock_restricted`` join rule
10+), "Server Access Control Lists", "Leaving Rooms (Rejecting Invites)" (a knock is rescinded
by leaving), "Validating hashes and signatures on received events"; client-server API
"Knocking on rooms" and "Stripped state" (v1.16, MSC4311: ``knock_room_state`` holds full PDUs
of the room's version and includes ``m.room.create``).

As the room's server: ``make_knock`` refuses what the auth rules would refuse (403), checks the
template against the current state before answering, and ``send_knock`` validates the event's
shape (400) before signatures, ACL and auth (403), then sends the knock to every other resident
server before answering with the stripped state. Remote knocks count against ``rc_knocks``
``per_server`` (the origin), ``per_user`` and ``per_room`` (429).

As the knocker's server: the knock is kept out of band (``local_memberships``) with the
returned state after checking each PDU's signature and room. A repeat of the user's pending
knock (same reason and profile) asks the room's server for a template (make_knock) and, when the
template's auth events still cite that pending knock (the target's current member event is one
of a member event's auth events: server-server API "Auth events selection"), answers the room
ID without send_knock, as a repeated local knock makes no new event. The knocker's server cannot
otherwise know whether the knock is still pending: a room's server that does not send
rejections (Synapse) may have kicked or banned the knocker meanwhile, and then the template
cites the kick or ban (or make_knock is refused). A changed reason or profile is a new knock,
and concurrent knocks of one user on one room run one at a time. Beyond the spec: a kick or ban of
our user's pending knock, sent to us by the room's server, is accepted when it is validly
signed and its cited auth chain authorises it, so the knocker learns of the rejection.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from transom.core.auth import check_auth, check_cited_auth_events
from transom.core.errors import AuthFailure, MatrixProtocolError, SignatureError
from transom.core.events import Event, JsonDict, StateKey
from transom.core.hashing import add_content_hash, check_content_hash, compute_event_id
from transom.core.pdu import parse_pdu
from transom.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from transom.core.signing import sign_event
from transom.core.stripped import strip_event, stripped_state_events
from transom.services.errors import (
    BadJson,
    Forbidden,
    InvalidParam,
    LimitExceeded,
    MissingParam,
    NotFound,
    UnknownError,
)
from transom.services.federation.membership import (
    TEMPLATE_DROPPED_KEYS,
    IncompatibleRoomVersion,
    server_of,
)
from transom.services.rooms.events import EventDraft
from transom.services.rooms.locks import RoomLocks
from transom.storage.state import LocalMembership

if TYPE_CHECKING:
    from transom.app import HomeServer

logger = logging.getLogger(__name__)

FED_V1 = "/_matrix/federation/v1"
CREATE: StateKey = ("m.room.create", "")
# Room versions 7+ have the `knock` membership; make_knock offers all of them.
KNOCK_VERSIONS = [v.identifier for v in KNOWN_ROOM_VERSIONS.values() if v.knocking]


def _q(value: str) -> str:
    return quote(value, safe="")


class FederationKnocking:
    """``hs.federation_knocking``."""

    def __init__(self, hs: HomeServer) -> None:
        self.hs = hs
        self.rooms = hs.rooms
        self.server_name = hs.server_name
        # "user|room" -> one remote knock at a time, so concurrent repeats are idempotent too.
        self._knocking = RoomLocks()

    # As the room's server ---------------------------------------------------------------------

    async def make_knock(
        self, origin: str, room_id: str, user_id: str, versions: Sequence[str]
    ) -> JsonDict:
        """``GET /make_knock/{roomId}/{userId}``: the template for the knocker's server."""
        # knocks.yaml: `ver` is required (knocking arrived with v7; no default of ["1"]).
        if not versions:
            raise MissingParam("The ver query parameter is required")
        room_version = await self._room_we_are_in(room_id)
        await self._check_acl(origin, room_id)
        if room_version.identifier not in versions:
            raise IncompatibleRoomVersion(
                "Your homeserver does not support the features required to knock on this room",
                room_version.identifier,
            )
        if server_of(user_id) != origin:
            raise Forbidden("The user is not on the requesting server")
        self._check_limits(origin, user_id, room_id)
        # Room versions 7+ (knock), 10+ (knock_restricted); banned, invited or joined users
        # cannot knock (auth rule 5.7 in v12 numbering): the same clear refusals as local knocks.
        await self.hs.knocking._precheck(user_id, room_id)
        draft = EventDraft(user_id, "m.room.member", {"membership": "knock"}, user_id)
        async with self.rooms.locks.lock(room_id):
            context = await self.rooms.creator.load_context(room_id)
            # The template is authorised against the current state before it is handed out.
            event = await self.rooms.creator.build_and_authorise(context, draft)
        template = {k: v for k, v in event.pdu.items() if k not in TEMPLATE_DROPPED_KEYS}
        return {"room_version": room_version.identifier, "event": template}

    async def send_knock(self, origin: str, room_id: str, event_id: str, pdu: Any) -> JsonDict:
        """``PUT /send_knock/{roomId}/{eventId}``: accept the knock, send it to the other
        resident servers, answer the stripped state as full PDUs."""
        room_version = await self._room_we_are_in(room_id)
        sender = _checked_knock_shape(origin, room_id, event_id, pdu, room_version)
        self._check_limits(origin, sender, room_id)
        self._record(origin, sender, room_id, 1.0)
        try:
            # Steps 1-3 of "Checks performed on receipt of a PDU" (bad signatures: 403).
            event = await self.hs.federation_events.validate_incoming(
                origin, room_id, pdu, room_version
            )
            await self._check_acl(origin, room_id)
            # Steps 4-6; a rejected knock raises 403 with the auth rule's reason.
            stored = await self.hs.federation_events.persist_incoming(origin, event)
            if stored.outlier:
                raise Forbidden("The knock is not allowed by the room's current state")
        except BaseException:
            self._record(origin, sender, room_id, -1.0)  # a refused knock costs nothing
            raise
        # "Knocking upon a room": like send_join, the resident server sends the event on.
        others = await self.rooms.state.get_joined_hosts(room_id)
        await self.hs.federation_sender.send_pdu(event, others - {origin, self.server_name})
        return {"knock_room_state": [e.pdu for e in await self._stripped_state(room_id)]}

    async def _room_we_are_in(self, room_id: str) -> RoomVersion:
        room_version = await self.rooms.rooms.get_room_version(room_id)
        hosts = await self.rooms.state.get_joined_hosts(room_id) if room_version else set()
        if room_version is None or self.server_name not in hosts:
            raise NotFound(f"Unknown room {room_id}")
        return room_version

    async def _check_acl(self, origin: str, room_id: str) -> None:
        # "Server Access Control Lists": make_knock and send_knock refuse a denied origin.
        if not await self.hs.federation_events.server_allowed(origin, room_id):
            raise Forbidden("Server is denied by the room's server ACL")

    def _check_limits(self, origin: str, user_id: str, room_id: str) -> None:
        """``rc_knocks``: per origin server, per knocking user and per room (429)."""
        limiters = self.hs.ratelimiters
        waits = [
            wait
            for allowed, wait in (
                limiters.knocks_per_server.can_do(origin),
                limiters.knocks_per_user.can_do(user_id),
                limiters.knocks_per_room.can_do(room_id),
            )
            if not allowed
        ]
        if waits:
            raise LimitExceeded(max(waits), "Too many knocks; try again later")

    def _record(self, origin: str, user_id: str, room_id: str, amount: float) -> None:
        limiters = self.hs.ratelimiters
        limiters.knocks_per_server.record(origin, amount)
        limiters.knocks_per_user.record(user_id, amount)
        limiters.knocks_per_room.record(room_id, amount)

    async def _stripped_state(self, room_id: str) -> list[Event]:
        state_ids = await self.rooms.state.get_current_state_ids(room_id)
        events = await self.rooms.events.get_events(state_ids.values())
        current = {k: events[v] for k, v in state_ids.items() if v in events}
        return stripped_state_events(current, self.hs.config.stripped_state_extra_types)

    # As the knocker's server ------------------------------------------------------------------

    async def remote_knock(
        self, user_id: str, room_id_or_alias: str, via: Sequence[str], reason: str | None
    ) -> str:
        """Knock on a room this server is not in (the knocking service's ``remote_knock``);
        returns the room ID. The knock is kept as an out-of-band membership; a repeat of the
        pending one is answered without contacting any server."""
        room_id, servers = await self._room_and_servers(room_id_or_alias, via)
        async with self._knocking.lock(f"{user_id}|{room_id}"):
            pending = await self._pending_knock_repeated(user_id, room_id, reason)
            return await self._knock_through(user_id, room_id, servers, reason, pending)

    async def _pending_knock_repeated(
        self, user_id: str, room_id: str, reason: str | None
    ) -> str | None:
        """The event ID of the user's pending knock when this one would repeat it, else None.
        The auth rules let a knock follow a pending knock (rule 5.7.3 in v12 numbering, 4.7.3
        in v7; room versions 7+), so a repeat is the server's choice: answered as a local one
        is, with no new event and no rate limit, once the room's server confirms it pending."""
        local = await self.rooms.state.get_local_membership(user_id, room_id)
        if local is None or local.membership != "knock":
            return None
        pending = await self.rooms.events.get_event(local.event_id)
        if pending is None or not await self.hs.knocking.same_knock(user_id, pending, reason):
            return None
        return pending.event_id

    async def _knock_through(
        self,
        user_id: str,
        room_id: str,
        servers: Sequence[str],
        reason: str | None,
        pending: str | None = None,
    ) -> str:
        if not servers:
            raise NotFound(f"No server to knock on {room_id} through")
        limiter = self.hs.ratelimiters.knocks_per_user
        allowed, wait = limiter.can_do(user_id)
        if not allowed:
            raise LimitExceeded(wait, "Too many knocks; try again later")
        content = await self.rooms.membership.profile_content(user_id)
        if reason is not None:
            content["reason"] = reason
        failures: list[Exception] = []
        for server in servers:
            try:
                knocked = await self._knock_via(server, user_id, room_id, content, pending)
            except Exception as exc:  # FederationError, unreachable, a bad template or answer
                logger.info("Knocking on %s via %s failed: %s", room_id, server, exc)
                failures.append(exc)
                continue
            if knocked is None:  # the room's server still has the pending knock
                return room_id
            event, state = knocked
            limiter.record(user_id)
            await self.hs.federation_membership.record_out_of_band(event, state, via_server=server)
            return room_id
        raise _client_error(failures, f"No server could take {user_id}'s knock on {room_id}")

    async def remote_rescind(self, user_id: str, room_id: str, reason: str | None) -> None:
        """Rescind a knock on a room we are not in: make_leave/send_leave through the server
        knocked through ("Leaving Rooms (Rejecting Invites)"), else a local leave."""
        await self.hs.remote_membership.leave(user_id, room_id, reason=reason)

    async def _room_and_servers(
        self, room_id_or_alias: str, via: Sequence[str]
    ) -> tuple[str, list[str]]:
        """The room ID and the servers to try: ``via``, those the alias's directory server
        named, then the room ID's server (room versions 1-11; v12 room IDs name none)."""
        room_id, alias_servers = await self.rooms.directory.resolve_room_and_servers(
            room_id_or_alias
        )
        servers = [*via, *alias_servers]
        if ":" in room_id:
            servers.append(room_id.split(":", 1)[1])
        ordered = dict.fromkeys(s for s in servers if s and s != self.server_name)
        return room_id, list(ordered)

    async def _knock_via(
        self, server: str, user_id: str, room_id: str, content: JsonDict, pending: str | None
    ) -> tuple[Event, list[JsonDict]] | None:
        """make_knock then send_knock through ``server``; None without send_knock when the
        template's auth events cite ``pending`` (the knock is still the user's membership)."""
        client = self.hs.federation_client
        answer = await client.get_json(
            server, f"{FED_V1}/make_knock/{_q(room_id)}/{_q(user_id)}", {"ver": KNOCK_VERSIONS}
        )
        event = self._build_knock(answer, room_id, user_id, content)
        if pending is not None and pending in event.auth_event_ids:
            return None
        path = f"{FED_V1}/send_knock/{_q(room_id)}/{_q(event.event_id)}"
        response = await client.put_json(server, path, event.pdu)
        if not isinstance(response, dict):
            raise UnknownError("The send_knock answer is not an object")
        entries = response.get("knock_room_state")
        if entries is None:
            entries = response.get("knock_state_events")  # the name before spec v1.1's release
        state = await self._verified_state(room_id, event.room_version, entries)
        return event, state

    def _build_knock(self, answer: Any, room_id: str, user_id: str, content: JsonDict) -> Event:
        """Check the make_knock template (knocks.yaml: "MUST verify" room_id, sender,
        state_key, type and membership; else it is malformed) and build our signed knock on
        the template's prev events, auth events and depth."""
        if not isinstance(answer, dict) or not isinstance(answer.get("event"), dict):
            raise UnknownError("The make_knock answer has no event template")
        room_version = KNOWN_ROOM_VERSIONS.get(str(answer.get("room_version")))
        if room_version is None or not room_version.knocking:
            raise UnknownError(f"Unusable room version {answer.get('room_version')!r}")
        template: JsonDict = answer["event"]
        template_content = template.get("content")
        if (
            template.get("room_id") != room_id
            or template.get("sender") != user_id
            or template.get("state_key") != user_id
            or template.get("type") != "m.room.member"
            or not isinstance(template_content, dict)
            or template_content.get("membership") != "knock"
        ):
            raise UnknownError("The make_knock template does not match the knock asked for")
        pdu: JsonDict = {
            "type": "m.room.member",
            "room_id": room_id,
            "sender": user_id,
            "state_key": user_id,
            "content": {**content, "membership": "knock"},
            "depth": template.get("depth"),
            "prev_events": template.get("prev_events"),
            "auth_events": template.get("auth_events"),
            "origin_server_ts": self.hs.clock.time_msec(),
            "hashes": {},
            "signatures": {},
        }
        signed = sign_event(add_content_hash(pdu), room_version, self.server_name,
                            self.hs.signing_key)  # fmt: skip
        try:
            return parse_pdu(signed, room_version)
        except MatrixProtocolError as exc:
            raise UnknownError(f"The make_knock template is malformed: {exc.message}") from None

    async def _verified_state(
        self, room_id: str, room_version: RoomVersion, entries: Any
    ) -> list[JsonDict]:
        """The returned state as stripped events (four keys), keeping only PDUs of this room
        whose signatures and content hashes check; anything else is dropped and logged."""
        if not isinstance(entries, list):
            return []
        stripped: list[JsonDict] = []
        seen: set[StateKey] = set()
        for entry in entries:
            try:
                if not isinstance(entry, dict):
                    raise BadJson("not an object")
                event = parse_pdu(entry, room_version)
                if event.room_id != room_id or not event.is_state:
                    raise BadJson(f"{event.event_id} is not a state event of {room_id}")
                if not check_content_hash({k: v for k, v in entry.items() if k != "unsigned"}):
                    raise BadJson(f"{event.event_id} has a wrong content hash")
                await self.hs.keyring.verify_event(entry, room_version)
            except (MatrixProtocolError, SignatureError) as exc:
                logger.warning("Dropping a knock_room_state entry for %s: %s", room_id, exc)
                continue
            if event.state_tuple not in seen:
                seen.add(event.state_tuple)
                stripped.append(strip_event(event))
        return stripped

    # Rejections delivered to the knocker's server ---------------------------------------------

    async def on_pdu_outside_room(self, origin: str, pdu: Any) -> tuple[bool, str | None]:
        """A PDU in ``/send``: if it is a leave or ban of one of our users' pending
        out-of-band knocks, (True, None) when accepted or (True, why) when dropped; (False,
        None) for anything else, which the normal pipeline handles."""
        if not isinstance(pdu, dict) or pdu.get("type") != "m.room.member":
            return False, None
        target, room_id, content = pdu.get("state_key"), pdu.get("room_id"), pdu.get("content")
        membership = content.get("membership") if isinstance(content, dict) else None
        if not (isinstance(target, str) and isinstance(room_id, str)):
            return False, None
        if membership not in ("leave", "ban") or not self.rooms.is_local_user(target):
            return False, None
        local = await self.rooms.state.get_local_membership(target, room_id)
        if local is None or not local.outofband or local.membership != "knock":
            return False, None
        try:
            await self._accept_rejection(origin, pdu, local)
        except MatrixProtocolError as exc:
            logger.info("Ignoring a rejection of %s's knock on %s: %s", target, room_id, exc)
            return True, exc.message
        except Exception as exc:  # the origin could not serve the auth chain, and the like
            logger.info("Ignoring a rejection of %s's knock on %s: %s", target, room_id, exc)
            return True, f"Cannot check the rejection: {exc}"
        return True, None

    async def _accept_rejection(self, origin: str, pdu: JsonDict, local: LocalMembership) -> None:
        knock = await self.rooms.events.get_event(local.event_id)
        if knock is None:
            raise NotFound("The pending knock is unknown")
        # Steps 1-3 of "Checks performed on receipt of a PDU": format, signatures, hashes.
        event = await self.hs.federation_events.validate_incoming(
            origin, local.room_id, pdu, knock.room_version
        )
        if event.sender == event.state_key or self.rooms.is_local_user(event.sender):
            raise Forbidden("Only the room's moderators' rejections are delivered")
        chain = await self._remote_auth_chain(origin, event, knock)
        # Step 4, with the cited auth events: the sender may kick or ban the knocker.
        failure = _cited_auth_failure(event, chain)
        if failure is not None:
            raise Forbidden(f"The rejection is not authorised: {failure.reason}")
        cited = {chain[i].state_tuple: chain[i] for i in event.auth_event_ids}
        member = cited.get(("m.room.member", local.user_id))
        if member is None or member.event_id != knock.event_id:
            raise Forbidden("The rejection does not follow the user's pending knock")
        if _create_id(event, chain) != _create_id(knock, chain):
            raise Forbidden("The rejection belongs to another room's history")
        await self.hs.federation_membership.record_out_of_band(
            event, None, via_server=local.via_server
        )

    async def _remote_auth_chain(self, origin: str, event: Event, knock: Event) -> dict[str, Event]:
        """The event's auth chain from ``/event_auth`` ("Retrieving event authorisation
        information"): validly signed events only, each authorised by its own cited auth
        events (auth order); nothing is stored."""
        fed = self.hs.federation_events
        pdus = await fed.remote.get_event_auth(origin, event.room_id, event.event_id)
        pending: dict[str, Event] = {}
        for pdu in pdus:
            try:
                got = await fed.validate_incoming(origin, event.room_id, pdu, event.room_version)
            except MatrixProtocolError as exc:
                logger.info("Dropping an auth event from %s: %s", origin, exc)
                continue
            pending[got.event_id] = got
        pending.setdefault(knock.event_id, knock)
        valid: dict[str, Event] = {}
        while pending:
            ready = [e for e in pending.values() if not any(a in pending for a in e.auth_event_ids)]
            if not ready:  # an auth cycle: nothing in it can be authorised
                break
            for candidate in ready:
                del pending[candidate.event_id]
                if _cited_auth_failure(candidate, valid) is None:
                    valid[candidate.event_id] = candidate
        return valid


def _cited_auth_failure(event: Event, known: Mapping[str, Event]) -> AuthFailure | None:
    """The auth rules with the event's cited auth events (and, in v12, the create event the
    room ID names) as the state; every cited event must be in ``known``."""
    missing = [i for i in event.auth_event_ids if i not in known]
    if missing:
        return AuthFailure(rule="auth_events", reason=f"unknown auth events {sorted(missing)}")
    cited = [known[i] for i in event.auth_event_ids]
    failure = check_cited_auth_events(event, cited)
    if failure is not None:
        return failure
    auth_map = {e.state_tuple: e for e in cited}
    create_id = _create_id(event, known)
    if event.room_version.room_id_is_create_hash and not event.is_create:
        # v12: the create event is implied by the room ID, not cited.
        create = known.get(create_id or "")
        if create is None:
            return AuthFailure(rule="room_id", reason="the room's create event is unknown")
        auth_map[CREATE] = create
    return check_auth(event, auth_map)


def _create_id(event: Event, known: Mapping[str, Event]) -> str | None:
    """The create event ``event`` depends on: implied by the room ID in v12, cited before."""
    if event.room_version.room_id_is_create_hash:
        return "$" + event.room_id[1:]
    for auth_id in event.auth_event_ids:
        cited = known.get(auth_id)
        if cited is not None and cited.state_tuple == CREATE:
            return auth_id
    return None


def _checked_knock_shape(
    origin: str, room_id: str, event_id: str, pdu: Any, room_version: RoomVersion
) -> str:
    """send_knock's validation before any authorisation (knocks.yaml: "MUST apply certain
    validation"; 400 ``M_INVALID_PARAM`` as it advises); returns the sender."""
    if not isinstance(pdu, dict):
        raise BadJson("The knock must be a JSON object")
    if pdu.get("type") != "m.room.member":
        raise InvalidParam("The event type must be m.room.member")
    state_key, sender, content = pdu.get("state_key"), pdu.get("sender"), pdu.get("content")
    if not isinstance(state_key, str):
        raise InvalidParam("The knock has no state_key")
    if not isinstance(content, dict) or content.get("membership") != "knock":
        raise InvalidParam("The event's membership must be 'knock'")
    if state_key != sender:
        raise InvalidParam("The event's state_key must be its sender")
    if not isinstance(sender, str) or server_of(sender) != origin:
        raise InvalidParam("The event's sender is not a user of the requesting server")
    if pdu.get("room_id") != room_id:
        raise InvalidParam("The event's room_id does not match the path")
    try:
        computed = compute_event_id(pdu, room_version)
    except MatrixProtocolError as exc:
        raise InvalidParam(f"The knock is malformed: {exc.message}") from None
    if computed != event_id:
        raise InvalidParam("The event ID does not match the path")
    return sender


def _client_error(failures: Sequence[Exception], fallback: str) -> Exception:
    """What the client sees when no server took the knock: a refusal from any of them (403,
    an incompatible room version, 429) wins over unreachable servers and 404s."""
    for wanted in ("M_FORBIDDEN", "M_INCOMPATIBLE_ROOM_VERSION", "M_LIMIT_EXCEEDED"):
        for exc in failures:
            if getattr(exc, "errcode", None) != wanted:
                continue
            body = getattr(exc, "body", None)
            message = body.get("error") if isinstance(body, dict) else None
            text = message if isinstance(message, str) else fallback
            if wanted == "M_FORBIDDEN":
                return Forbidden(text)
            if wanted == "M_LIMIT_EXCEEDED":
                retry = body.get("retry_after_ms") if isinstance(body, dict) else None
                return LimitExceeded(retry if isinstance(retry, int) else 1000, text)
            error = UnknownError(text)
            error.errcode = wanted
            return error
    return NotFound(fallback)
