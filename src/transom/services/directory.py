"""Room aliases and the published room directory (client-server API "Room aliases" and
"Listing rooms": directory.yaml, list_public_rooms.yaml).

- Aliases: local aliases are created here, remote ones resolved over federation; 409 for a
  taken alias; deletion by the alias's creator, a server admin, or a room member with the power
  to send ``m.room.canonical_alias``.
- Room directory visibility: read by anyone, changed by server admins or members with the power
  to send ``m.room.canonical_alias`` (the room's moderators).
- ``/publicRooms``: published rooms, largest first, searched by ``generic_search_term``, paged
  with opaque ``since`` tokens (``p{offset}``). Each chunk carries ``join_rule`` so that knock
  rooms (``knock``, v7+; ``knock_restricted``, v10+) are shown as such.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from transom.core.auth.power_levels import can_do
from transom.core.errors import InvalidIdentifier, MatrixProtocolError
from transom.core.events import Event, JsonDict, StateKey
from transom.core.identifiers import RoomAlias
from transom.services.errors import Forbidden, InvalidParam, NotFound
from transom.services.rooms.service import RoomService
from transom.services.rooms.visibility import history_visibility
from transom.storage.rooms import AliasExistsError

MAX_PUBLIC_ROOMS_LIMIT = 500
_SINCE = re.compile(r"^p(\d+)$")


class AliasInUse(MatrixProtocolError):
    """directory.yaml: 409 "A room alias with that name already exists" (errcode M_UNKNOWN)."""

    errcode = "M_UNKNOWN"
    http_status = 409


def _content_str(state: dict[StateKey, Event], key: StateKey, field: str) -> str | None:
    event = state.get(key)
    value = event.content.get(field) if event is not None else None
    return value if isinstance(value, str) else None


class DirectoryService:
    def __init__(
        self,
        rooms: RoomService,
        server_name: str,
        is_admin: Callable[[str], Awaitable[bool]],
    ) -> None:
        self.rooms = rooms
        self.server_name = server_name
        self.is_admin = is_admin
        # Federation's ``FederationQueries.remote_public_rooms``, wired by the composition root.
        self.remote_public_rooms: Callable[..., Awaitable[JsonDict]] | None = None

    # Aliases ----------------------------------------------------------------------------------

    def _local_alias(self, alias: str) -> str:
        try:
            parsed = RoomAlias.parse(alias)
        except InvalidIdentifier:
            raise InvalidParam(f"Invalid room alias {alias!r}") from None
        if parsed.domain != self.server_name:
            raise InvalidParam("Room aliases must be on this server")
        return str(parsed)

    async def _current_state(self, room_id: str) -> dict[StateKey, Event]:
        return await self.rooms._state_events(await self.rooms.state.get_current_state_ids(room_id))

    async def _can_moderate(self, user_id: str, room_id: str) -> bool:
        """A joined member with the power to send ``m.room.canonical_alias``, or an admin."""
        if await self.is_admin(user_id):
            return True
        state = await self._current_state(room_id)
        member = state.get(("m.room.member", user_id))
        if member is None or member.membership != "join":
            return False
        return can_do(user_id, "m.room.canonical_alias", state, is_state=True)

    async def create_alias(self, user_id: str, alias: str, room_id: str) -> None:
        alias = self._local_alias(alias)
        if await self.rooms.rooms.get_room_version(room_id) is None:
            raise NotFound("Unknown room")
        member = await self.rooms.membership.membership_of(room_id, user_id)
        if member != "join" and not await self.is_admin(user_id):
            raise Forbidden("You must be in the room to give it an alias")
        try:
            await self.rooms.rooms.create_alias(alias, room_id, user_id)
        except AliasExistsError:
            raise AliasInUse(f"Room alias {alias} already exists") from None

    async def resolve_alias(self, alias: str) -> JsonDict:
        try:
            parsed = RoomAlias.parse(alias)
        except InvalidIdentifier:
            raise InvalidParam(f"Invalid room alias {alias!r}") from None
        found = await self.rooms.rooms.get_alias(alias)
        if found is None and parsed.domain != self.server_name:
            # Client-server API "GET /directory/room/{roomAlias}" (all room versions): a remote
            # alias is resolved over federation (server-server API "/query/directory").
            room_id, servers = await self.rooms.directory.resolve_room_and_servers(alias)
            return {"room_id": room_id, "servers": servers}
        if found is None:
            raise NotFound(f"Room alias {alias} not found")
        room_id = found[0]
        hosts = await self.rooms.state.get_joined_hosts(room_id)
        servers = [self.server_name, *sorted(h for h in hosts if h != self.server_name)]
        return {"room_id": room_id, "servers": servers}

    async def delete_alias(self, user_id: str, alias: str) -> None:
        alias = self._local_alias(alias)
        found = await self.rooms.rooms.get_alias(alias)
        if found is None:
            raise NotFound(f"Room alias {alias} not found")
        room_id, creator = found
        if user_id != creator and not await self._can_moderate(user_id, room_id):
            raise Forbidden("You may not delete this alias")
        await self.rooms.rooms.delete_alias(alias)

    async def local_aliases(self, user_id: str, room_id: str) -> list[str]:
        """Members, or anyone when the room is ``world_readable``; 403 otherwise."""
        state = await self._current_state(room_id)
        member = state.get(("m.room.member", user_id))
        joined = member is not None and member.membership == "join"
        readable = joined or history_visibility(state) == "world_readable"
        if not readable and not await self.is_admin(user_id):
            raise Forbidden("You are not in this room")
        return await self.rooms.rooms.aliases_for_room(room_id)

    # Directory visibility ---------------------------------------------------------------------

    async def get_visibility(self, room_id: str) -> str:
        room = await self.rooms.rooms.get_room(room_id)
        if room is None:
            raise NotFound("Unknown room")
        return "public" if room.is_public else "private"

    async def set_visibility(self, user_id: str, room_id: str, visibility: str) -> None:
        if visibility not in ("public", "private"):
            raise InvalidParam("visibility must be 'public' or 'private'")
        if await self.rooms.rooms.get_room(room_id) is None:
            raise NotFound("Unknown room")
        if not await self._can_moderate(user_id, room_id):
            raise Forbidden("You may not change this room's directory visibility")
        await self.rooms.rooms.set_public(room_id, visibility == "public")

    # Public rooms -----------------------------------------------------------------------------

    async def room_summary(self, room_id: str) -> JsonDict:
        """A PublishedRoomsChunk entry (list_public_rooms.yaml)."""
        state = await self._current_state(room_id)
        entry: JsonDict = {
            "room_id": room_id,
            "num_joined_members": sum(
                1 for (t, _), e in state.items() if t == "m.room.member" and e.membership == "join"
            ),
            "world_readable": history_visibility(state) == "world_readable",
            "guest_can_join": _content_str(state, ("m.room.guest_access", ""), "guest_access")
            == "can_join",
            # "The room's join rule. When not present, the room is assumed to be public."
            "join_rule": _content_str(state, ("m.room.join_rules", ""), "join_rule") or "public",
        }
        optional = {
            "name": (("m.room.name", ""), "name"),
            "topic": (("m.room.topic", ""), "topic"),
            "avatar_url": (("m.room.avatar", ""), "url"),
            "canonical_alias": (("m.room.canonical_alias", ""), "alias"),
            "room_type": (("m.room.create", ""), "type"),
        }
        for name, (key, field) in optional.items():
            value = _content_str(state, key, field)
            if value:
                entry[name] = value
        return entry

    async def public_rooms(
        self,
        *,
        limit: int | None,
        since: str | None,
        search_term: str | None,
        server: str | None,
    ) -> JsonDict:
        if server is not None and server != self.server_name:
            # list_public_rooms.yaml ``server``: "The server to fetch the public room lists
            # from" (all room versions): asked over federation ("Public Room Directory").
            if self.remote_public_rooms is None:
                raise NotFound(f"Cannot list the public rooms of {server}")
            answer: JsonDict = await self.remote_public_rooms(
                server, limit=limit, since=since, search_term=search_term
            )
            return answer
        offset = 0
        if since is not None:
            match = _SINCE.match(since)
            if match is None:
                raise InvalidParam("Invalid 'since' token")
            offset = int(match.group(1))
        if limit is not None and limit < 0:
            raise InvalidParam("limit must not be negative")
        entries = [await self.room_summary(r) for r in await self.rooms.rooms.public_room_ids()]
        if search_term:
            needle = search_term.casefold()
            entries = [e for e in entries if _matches(e, needle)]
        entries.sort(key=lambda e: (-int(e["num_joined_members"]), str(e["room_id"])))
        count = min(limit, MAX_PUBLIC_ROOMS_LIMIT) if limit is not None else len(entries)
        page = entries[offset : offset + count]
        result: dict[str, Any] = {"chunk": page, "total_room_count_estimate": len(entries)}
        if offset + count < len(entries):
            result["next_batch"] = f"p{offset + count}"
        if offset > 0:
            result["prev_batch"] = f"p{max(0, offset - count)}"
        return result


def _matches(entry: JsonDict, needle: str) -> bool:
    """``generic_search_term``: a case-insensitive substring of the name, topic or alias."""
    for key in ("name", "topic", "canonical_alias"):
        value = entry.get(key)
        if isinstance(value, str) and needle in value.casefold():
            return True
    return False
