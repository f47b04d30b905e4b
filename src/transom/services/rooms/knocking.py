"""Knocking on rooms from this server's users (client-server API "Knocking on rooms",
``POST /knock/{roomIdOrAlias}``; room versions 7+, ``knock_restricted`` join rule 10+).

A knock is an ``m.room.member`` event with ``membership: knock`` carrying the knocker's profile
and optional ``reason``; the room version's auth rule 5.7 (v12 numbering; 4.7 in v7) decides.
This service adds what the rules leave to the server:

- clear refusals checked before anything is built: no knocking in the room version, a join rule
  that is not ``knock``/``knock_restricted``, banned, invited or joined (403 ``M_FORBIDDEN``);
- dedicated rate limits (``rc_knocks``; knock spam is the risk the knocking proposal, MSC2403,
  warns about), checked before writing; a refused or failed knock costs nothing;
- idempotent repeats: knocking again with the same reason and profile while a knock is pending
  answers without a new event, so retrying clients do not notify moderators twice; a changed
  reason or profile is a new knock event (``same_knock`` decides, for remote rooms too);
- rescinding every pending knock of a deactivated account.

Rooms this server is not in are knocked on over federation by ``remote_knock`` (filled in by the
federation layer); until it is set they are 404 ``M_NOT_FOUND``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from transom.core.events import Event
from transom.services.errors import Forbidden, LimitExceeded, NotFound
from transom.services.ratelimit import RateLimiters
from transom.services.rooms.locks import RoomLocks
from transom.services.rooms.service import RoomService

logger = logging.getLogger(__name__)

# (user ID, room ID or alias, servers to try, reason) -> the room ID knocked on.
RemoteKnock = Callable[[str, str, Sequence[str], str | None], Awaitable[str]]
# (user ID, room ID, reason) -> None: rescind a knock on a room this server is not in.
RemoteRescind = Callable[[str, str, str | None], Awaitable[None]]


class KnockService:
    def __init__(self, rooms: RoomService, limiters: RateLimiters) -> None:
        self.rooms = rooms
        self.limiters = limiters
        self.remote_knock: RemoteKnock | None = None
        self.remote_rescind: RemoteRescind | None = None
        self._pending = RoomLocks()

    async def knock(
        self, user_id: str, room_id_or_alias: str, *, reason: str | None, via: Sequence[str] = ()
    ) -> str:
        """Knock on a room; returns its room ID."""
        room_id = await self._resolve_local(room_id_or_alias)
        if room_id is None:
            # Servers to try: `via`, the alias's servers, the room ID's server (v1-v11 IDs).
            has_servers = via or not room_id_or_alias.startswith("!") or ":" in room_id_or_alias
            if has_servers and self.remote_knock is not None:
                return await self.remote_knock(user_id, room_id_or_alias, via, reason)
            raise NotFound(f"Room {room_id_or_alias} not found")
        await self.knock_local(user_id, room_id, reason=reason)
        return room_id

    async def knock_local(self, user_id: str, room_id: str, *, reason: str | None) -> Event:
        """Knock on a room this server is in; returns the knock event (the pending one for an
        identical repeat). One knock per user and room at a time, so that concurrent retries
        are idempotent too."""
        async with self._pending.lock(f"{user_id}|{room_id}"):
            previous = await self._precheck(user_id, room_id)
            if previous is not None and await self.same_knock(user_id, previous, reason):
                return previous
            self._reserve(user_id, room_id)
            try:
                return await self.rooms.membership.change(
                    user_id, room_id, user_id, "knock", reason=reason
                )
            except BaseException:
                self._refund(user_id, room_id)
                raise

    async def _resolve_local(self, room_id_or_alias: str) -> str | None:
        """The room ID if this server is in the room, else None (unknown alias or room)."""
        try:
            room_id = await self.rooms.directory.resolve_room(room_id_or_alias)
        except NotFound:
            return None
        if await self.rooms.rooms.get_room_version(room_id) is None:
            return None
        if self.remote_knock is not None and self.rooms.server_name not in (
            await self.rooms.state.get_joined_hosts(room_id)
        ):
            # Known but left (or only seen through an invite): knock through a resident server.
            return None
        return room_id

    async def _precheck(self, user_id: str, room_id: str) -> Event | None:
        """Refuse a knock the auth rules would refuse, with a clear message; returns the
        user's pending knock event, if any."""
        room_version = await self.rooms.rooms.get_room_version(room_id)
        if room_version is None:
            raise NotFound(f"Room {room_id} not found")
        # Room versions 1-6 have no `knock` membership (knocking is v7+).
        if not room_version.knocking:
            raise Forbidden(f"Room version {room_version.identifier} does not support knocking")
        state = self.rooms.state
        join_rules_id = await state.get_current_state_event_id(room_id, "m.room.join_rules", "")
        join_rules = await self.rooms.events.get_event(join_rules_id) if join_rules_id else None
        rule = join_rules.content.get("join_rule") if join_rules is not None else None
        # Auth rule 5.7.1 (v7-v9: knock; v10+: knock or knock_restricted).
        if rule not in room_version.knock_join_rules:
            raise Forbidden(f"This room does not accept knocks (its join rule is {rule!r})")
        member_id = await state.get_current_state_event_id(room_id, "m.room.member", user_id)
        member = await self.rooms.events.get_event(member_id) if member_id else None
        membership = member.membership if member is not None else None
        # Auth rule 5.7.3 (v7+): banned, invited or joined users cannot knock.
        if membership == "ban":
            raise Forbidden("You are banned from this room")
        if membership == "join":
            raise Forbidden("You are already in this room")
        if membership == "invite":
            raise Forbidden("You are already invited to this room: join it instead")
        return member if membership == "knock" else None

    async def same_knock(self, user_id: str, previous: Event, reason: str | None) -> bool:
        """Whether a new knock would repeat the pending knock ``previous`` exactly (same reason
        and profile)."""
        profile = await self.rooms.membership.profile_content(user_id)
        content = previous.content
        return content.get("reason") == reason and all(
            content.get(key) == profile.get(key) for key in ("displayname", "avatar_url")
        )

    def _reserve(self, user_id: str, room_id: str) -> None:
        """``rc_knocks``: per knocking user and per room. Checking and counting happen in one
        synchronous step, so concurrent knocks cannot all slip under the limit; a knock that is
        then not written is refunded."""
        waits = [
            wait
            for allowed, wait in (
                self.limiters.knocks_per_user.can_do(user_id),
                self.limiters.knocks_per_room.can_do(room_id),
            )
            if not allowed
        ]
        if waits:
            raise LimitExceeded(max(waits), "Too many knocks; try again later")
        self.limiters.knocks_per_user.record(user_id)
        self.limiters.knocks_per_room.record(room_id)

    def _refund(self, user_id: str, room_id: str) -> None:
        self.limiters.knocks_per_user.record(user_id, -1.0)
        self.limiters.knocks_per_room.record(room_id, -1.0)

    async def rescind_all(self, user_id: str) -> None:
        """Leave every room ``user_id`` is knocking on (called when the account is deactivated)."""
        knocks = await self.rooms.state.get_local_memberships(user_id, ["knock"])
        for knock in knocks:
            try:
                if await self.rooms.rooms.get_room_version(knock.room_id) is not None:
                    await self.rooms.membership.change(
                        user_id, knock.room_id, user_id, "leave", reason="Account deactivated"
                    )
                elif self.remote_rescind is not None:
                    await self.remote_rescind(user_id, knock.room_id, "Account deactivated")
            except Exception:  # one room's failure must not keep the others' knocks pending
                logger.exception("could not rescind %s's knock on %s", user_id, knock.room_id)
