"""Joins, leaves and invites over federation, joining (client) side.

Spec: server-server API "Joining Rooms" (``make_join`` offering every supported ``ver``; the
joining server MUST check the template's ``type``, ``room_id``, ``sender``, ``state_key`` and
``content.membership``, adds ``origin``, ``origin_server_ts`` and ``event_id``, signs, and
sends it with ``send_join``, v2 first, v1 for older servers), "Leaving Rooms (Rejecting
Invites)" (``make_leave``/``send_leave``, through the server that sent the invite), "Inviting to
a room" (v2 ``invite`` with ``invite_room_state`` as full PDUs since v1.16; the invitee's server
returns the event with its signature added); client-server API "Joining rooms" (``via`` /
``server_name`` name the servers to try). All room versions unless noted.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from transom.core.errors import MatrixProtocolError
from transom.core.events import Event, JsonDict
from transom.core.hashing import add_content_hash
from transom.core.pdu import build_event, parse_pdu
from transom.core.redaction import redact
from transom.core.room_versions import KNOWN_ROOM_VERSIONS, EventFormat, RoomVersion
from transom.core.signing import sign_event
from transom.core.stripped import stripped_state_events
from transom.services.errors import Forbidden, NotFound, UnknownError
from transom.services.federation.membership import server_of
from transom.services.rooms.events import EventDraft
from transom.storage.persist import PersistEntry

if TYPE_CHECKING:
    from transom.app import HomeServer

logger = logging.getLogger(__name__)

FED_V1 = "/_matrix/federation/v1"
FED_V2 = "/_matrix/federation/v2"


def _q(value: str) -> str:
    return quote(value, safe="")


def _status(exc: Exception) -> int | None:
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


def _errcode(exc: Exception) -> str | None:
    errcode = getattr(exc, "errcode", None)
    return errcode if isinstance(errcode, str) else None


class RemoteMembership:
    """``hs.remote_membership``: our users joining, leaving and inviting through other servers."""

    def __init__(self, hs: HomeServer) -> None:
        self.hs = hs
        self.rooms = hs.rooms
        self.server_name = hs.server_name

    # Templates --------------------------------------------------------------------------------

    def _complete(
        self, template: Any, room_id: str, user_id: str, membership: str, extra: JsonDict
    ) -> tuple[JsonDict, RoomVersion]:
        """Check a make_join/make_leave answer and turn its template into our signed event."""
        if not isinstance(template, dict):
            raise UnknownError("The resident server sent no template")
        room_version = KNOWN_ROOM_VERSIONS.get(str(template.get("room_version") or "1"))
        pdu = template.get("event")
        if room_version is None or not isinstance(pdu, dict):
            raise UnknownError("The resident server sent an unusable template")
        content = pdu.get("content")
        if (
            pdu.get("type") != "m.room.member"
            or pdu.get("room_id") != room_id
            or pdu.get("sender") != user_id
            or pdu.get("state_key") != user_id
            or not isinstance(content, dict)
            or content.get("membership") != membership
        ):
            raise UnknownError("The resident server's template does not match the request")
        event = dict(pdu)
        for key in ("signatures", "hashes", "event_id", "unsigned", "origin"):
            event.pop(key, None)
        event["content"] = {**content, **extra, "membership": membership}
        event["origin_server_ts"] = self.hs.clock.time_msec()
        if room_version.event_format in (EventFormat.V1, EventFormat.V3):
            event["origin"] = self.server_name
        if room_version.event_format is EventFormat.V1:
            event["event_id"] = f"${secrets.token_urlsafe(18)}:{self.server_name}"
        hashed = add_content_hash(event)
        signed = sign_event(hashed, room_version, self.server_name, self.hs.signing_key)
        return signed, room_version

    # Joining ----------------------------------------------------------------------------------

    async def join(
        self, user_id: str, room_id: str, servers: Sequence[str], *, reason: str | None = None
    ) -> Event:
        """Join a room this server is not in through the first of ``servers`` that helps."""
        extra = await self.rooms.membership.profile_content(user_id)
        if reason is not None:
            extra["reason"] = reason
        last: Exception | None = None
        for server in dict.fromkeys(s for s in servers if s and s != self.server_name):
            try:
                return await self._join_via(server, user_id, room_id, extra)
            except (MatrixProtocolError, OSError) as exc:
                last = exc
            except Exception as exc:  # FederationError / FederationUnreachable and the like
                last = exc
            logger.info("Joining %s via %s failed: %s", room_id, server, last)
        raise _client_error(last, f"No server could help {user_id} join {room_id}")

    async def _join_via(self, server: str, user_id: str, room_id: str, extra: JsonDict) -> Event:
        client = self.hs.federation_client
        versions = list(KNOWN_ROOM_VERSIONS)
        template = await client.get_json(
            server, f"{FED_V1}/make_join/{_q(room_id)}/{_q(user_id)}", query={"ver": versions}
        )
        pdu, room_version = self._complete(template, room_id, user_id, "join", extra)
        event = parse_pdu(pdu, room_version)
        answer = await self._send(server, "send_join", room_id, event)
        if not isinstance(answer, dict):
            raise UnknownError("The resident server's send_join answer is not an object")
        returned = answer.get("event")
        if isinstance(returned, dict):
            # "Restricted rooms" (v8+): the resident server's co-signed copy of our event.
            co_signed = parse_pdu(returned, room_version)
            if co_signed.event_id == event.event_id:
                event = co_signed
        state = answer.get("state") if isinstance(answer.get("state"), list) else []
        chain = answer.get("auth_chain") if isinstance(answer.get("auth_chain"), list) else []
        await self.hs.federation_events.process_join_response(
            server, room_version, event, list(state or []), list(chain or [])
        )
        return event

    async def _send(self, server: str, what: str, room_id: str, event: Event) -> Any:
        """``PUT /v2/{what}``, falling back to v1 (answer ``[200, body]``) on 404/400
        ``M_UNRECOGNIZED`` as the spec advises for older servers."""
        client = self.hs.federation_client
        path = f"/{what}/{_q(room_id)}/{_q(event.event_id)}"
        try:
            return await client.put_json(server, FED_V2 + path, event.pdu)
        except Exception as exc:
            if not (_status(exc) == 404 or _errcode(exc) == "M_UNRECOGNIZED"):
                raise
        answer = await client.put_json(server, FED_V1 + path, event.pdu)
        if isinstance(answer, list) and len(answer) == 2:
            return answer[1]
        return answer

    # Leaving (rejecting a remote invite, rescinding a remote knock) ---------------------------

    async def leave(self, user_id: str, room_id: str, *, reason: str | None = None) -> None:
        """Leave a room we are not in: make_leave/send_leave through the server that invited
        us (then the room ID's server), then record the leave out of band. If no server helps,
        the leave is still recorded locally so the invite goes away."""
        local = await self.rooms.state.get_local_membership(user_id, room_id)
        if local is None or local.membership not in ("invite", "knock"):
            raise NotFound("You are not invited to or knocking on this room")
        servers = [local.via_server or ""]
        if not room_id.endswith(":" + self.server_name) and ":" in room_id:
            servers.append(room_id.split(":", 1)[1])  # not for v12's server-less room IDs
        extra: JsonDict = {} if reason is None else {"reason": reason}
        event: Event | None = None
        for server in dict.fromkeys(s for s in servers if s and s != self.server_name):
            try:
                template = await self.hs.federation_client.get_json(
                    server, f"{FED_V1}/make_leave/{_q(room_id)}/{_q(user_id)}"
                )
                pdu, room_version = self._complete(template, room_id, user_id, "leave", extra)
                candidate = parse_pdu(pdu, room_version)
                await self._send(server, "send_leave", room_id, candidate)
                event = candidate
                break
            except Exception as exc:
                logger.info("Leaving %s via %s failed: %s", room_id, server, exc)
        if event is None:
            event = await self._local_leave(user_id, room_id, local.event_id, extra)
        await self.hs.federation_membership.record_out_of_band(
            event, None, via_server=local.via_server
        )

    async def _local_leave(
        self, user_id: str, room_id: str, member_event_id: str, extra: JsonDict
    ) -> Event:
        """A leave only this server knows of, following our invite or knock."""
        member = await self.rooms.events.get_event(member_event_id)
        if member is None:
            raise NotFound("The invite is gone")
        return build_event(
            room_version=member.room_version, room_id=room_id, sender=user_id,
            event_type="m.room.member", content={**extra, "membership": "leave"},
            state_key=user_id, prev_events=[member], auth_events=[member],
            depth=member.depth + 1, origin_server_ts=self.hs.clock.time_msec(),
            origin=self.server_name, signing_key=self.hs.signing_key,
            event_id_v1=f"${secrets.token_urlsafe(18)}:{self.server_name}",
        )  # fmt: skip

    # Inviting a remote user -------------------------------------------------------------------

    async def invite(
        self, sender: str, room_id: str, target: str, *, reason: str | None = None
    ) -> Event:
        """Invite a user of another server to a room we are in: build and authorise the
        invite, have the invitee's server sign it, then persist and send it like any event."""
        content: JsonDict = {"membership": "invite"}
        if reason is not None:
            content["reason"] = reason
        creator = self.rooms.creator
        async with self.rooms.locks.lock(room_id):
            context = await creator.load_context(room_id)
            draft = EventDraft(sender, "m.room.member", content, target)
            event = await creator.build_and_authorise(context, draft)
            state_events = await self.rooms.events.get_events(context.state.values())
            current = {k: state_events[v] for k, v in context.state.items() if v in state_events}
            invite_state = stripped_state_events(current, self.hs.config.stripped_state_extra_types)
            event = await self._countersigned(server_of(target), event, invite_state)
            state_after = dict(context.state)
            state_after[event.state_tuple] = event.event_id
            await self.rooms.persister.persist(
                [
                    PersistEntry(
                        event=event,
                        state_after=state_after,
                        base_group=context.base_group,
                        new_extremities=[event.event_id],
                    )
                ]
            )
        await creator.notify_listeners([event])
        return event

    async def _countersigned(self, server: str, event: Event, state: list[Event]) -> Event:
        room_version = event.room_version
        body = {
            "room_version": room_version.identifier,
            "event": event.pdu,
            "invite_room_state": [e.pdu for e in state],
        }
        path = f"/invite/{_q(event.room_id)}/{_q(event.event_id)}"
        client = self.hs.federation_client
        try:
            answer = await client.put_json(server, FED_V2 + path, body)
        except Exception as exc:
            old = room_version.event_format is EventFormat.V1
            if not (old and _status(exc) in (400, 404)):
                raise _client_error(exc, f"{server} refused the invite") from None
            # "Senders which receive a 400 or 404 ... should retry using the v1 API" (v1, v2).
            answer = await client.put_json(server, FED_V1 + path, event.pdu)
            answer = answer[1] if isinstance(answer, list) and len(answer) == 2 else answer
        returned = answer.get("event") if isinstance(answer, dict) else None
        signatures = returned.get("signatures") if isinstance(returned, dict) else None
        theirs = signatures.get(server) if isinstance(signatures, dict) else None
        if not isinstance(theirs, dict) or not theirs:
            raise UnknownError(f"{server} did not sign the invite")
        # Keep our own event; add only the invitee server's signature, then check it.
        pdu = dict(event.pdu)
        pdu["signatures"] = {**event.pdu.get("signatures", {}), server: theirs}
        redacted = redact(pdu, room_version)
        redacted.pop("unsigned", None)
        try:
            await self.hs.keyring.verify_json_from(server, redacted, at_ts=event.origin_server_ts)
        except Exception as exc:
            raise UnknownError(f"{server}'s signature on the invite does not verify") from exc
        return Event(pdu, room_version, event.event_id)


def _client_error(exc: Exception | None, fallback: str) -> Exception:
    """A remote failure as a client-server API error: the remote's 403 stays a 403, an
    incompatible room version is passed through, anything else is a 404 for the room."""
    if isinstance(exc, MatrixProtocolError):
        return exc
    errcode = _errcode(exc) if exc is not None else None
    body = getattr(exc, "body", None)
    message = body.get("error") if isinstance(body, dict) else None
    text = message if isinstance(message, str) else fallback
    if errcode == "M_FORBIDDEN" or (exc is not None and _status(exc) == 403):
        return Forbidden(text)
    if errcode == "M_INCOMPATIBLE_ROOM_VERSION":
        error = UnknownError(text)
        error.errcode = errcode
        return error
    return NotFound(fallback)
