"""Room previews (client-server API "Room summaries", ``GET /v1/room_summary/{roomIdOrAlias}``,
Matrix 1.15; previously MSC3266's unstable ``im.nheko.summary`` endpoints).

A room is previewable to anyone when its join rule is ``public``, ``knock`` or
``knock_restricted`` or its history is ``world_readable``; and, to an authenticated user, when they
are joined, invited or knocking, or meet a ``restricted`` room's ``allow`` conditions (what a
user needs to decide whether to knock or join). Anything else answers 404 ``M_NOT_FOUND`` exactly
as an unknown room does, so the endpoint does not reveal which private rooms exist.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from transom.core.events import Event, JsonDict, StateKey
from transom.core.room_versions import RoomVersion
from transom.services.errors import NotFound
from transom.services.rooms.restricted import allowed_room_ids, restricted_rules
from transom.services.rooms.service import RoomService
from transom.services.rooms.visibility import history_visibility

OPEN_JOIN_RULES = frozenset({"public", "knock", "knock_restricted"})
# (user ID or None, room ID or alias, servers) -> the summary from a server in the room.
RemoteSummary = Callable[[str | None, str, Sequence[str]], Awaitable[JsonDict]]


def _content_str(state: Mapping[StateKey, Event], key: StateKey, field: str) -> str | None:
    event = state.get(key)
    value = event.content.get(field) if event is not None else None
    return value if isinstance(value, str) and value else None


class RoomSummaryService:
    def __init__(self, rooms: RoomService) -> None:
        self.rooms = rooms
        self.remote_summary: RemoteSummary | None = None

    async def summary(
        self, user_id: str | None, room_id_or_alias: str, *, via: Sequence[str] = ()
    ) -> JsonDict:
        try:
            room_id = await self.rooms.directory.resolve_room(room_id_or_alias)
        except NotFound:
            room_id = None
        room_version = await self.rooms.rooms.get_room_version(room_id) if room_id else None
        if room_id is None or room_version is None:
            if via and self.remote_summary is not None:
                return await self.remote_summary(user_id, room_id_or_alias, via)
            raise NotFound("Room not found")
        state_ids = await self.rooms.state.get_current_state_ids(room_id)
        wanted = {k: v for k, v in state_ids.items() if k[0] != "m.room.member"}
        if user_id is not None and ("m.room.member", user_id) in state_ids:
            wanted[("m.room.member", user_id)] = state_ids[("m.room.member", user_id)]
        loaded = await self.rooms.events.get_events(wanted.values())
        state = {k: loaded[v] for k, v in wanted.items() if v in loaded}
        member = state.get(("m.room.member", user_id)) if user_id else None
        membership = member.membership if member is not None else None
        if not await self._previewable(user_id, state, membership, room_version):
            raise NotFound("Room not found")
        members = await self.rooms.state.get_members(room_id)
        return self._build(room_id, room_version.identifier, state, members, user_id, membership)

    async def _previewable(
        self,
        user_id: str | None,
        state: Mapping[StateKey, Event],
        membership: str | None,
        room_version: RoomVersion,
    ) -> bool:
        join_rules = state.get(("m.room.join_rules", ""))
        rule = join_rules.content.get("join_rule") if join_rules is not None else None
        if rule in OPEN_JOIN_RULES or history_visibility(state) == "world_readable":
            return True
        if user_id is None:
            return False
        if membership in ("join", "invite", "knock"):
            return True
        if join_rules is not None and rule in restricted_rules(room_version):
            for allowed in allowed_room_ids(join_rules.content):
                if await self.rooms.membership.membership_of(allowed, user_id) == "join":
                    return True
        return False

    def _build(
        self,
        room_id: str,
        version: str,
        state: Mapping[StateKey, Event],
        members: Mapping[str, str],
        user_id: str | None,
        membership: str | None,
    ) -> JsonDict:
        """The ``RoomSummary`` object of room_summary.yaml; optional fields only when set."""
        join_rules = state.get(("m.room.join_rules", ""))
        rule = _content_str(state, ("m.room.join_rules", ""), "join_rule") or "invite"
        result: JsonDict = {
            "room_id": room_id,
            "num_joined_members": sum(1 for m in members.values() if m == "join"),
            "join_rule": rule,
            "guest_can_join": _content_str(state, ("m.room.guest_access", ""), "guest_access")
            == "can_join",
            "world_readable": history_visibility(state) == "world_readable",
            "room_version": version,
        }
        optional = {
            "name": _content_str(state, ("m.room.name", ""), "name"),
            "topic": _content_str(state, ("m.room.topic", ""), "topic"),
            "avatar_url": _content_str(state, ("m.room.avatar", ""), "url"),
            "canonical_alias": _content_str(state, ("m.room.canonical_alias", ""), "alias"),
            "room_type": _content_str(state, ("m.room.create", ""), "type"),
            "encryption": _content_str(state, ("m.room.encryption", ""), "algorithm"),
        }
        result.update({k: v for k, v in optional.items() if v is not None})
        if join_rules is not None and rule in ("restricted", "knock_restricted"):
            result["allowed_room_ids"] = allowed_room_ids(join_rules.content)
        if user_id is not None:
            # Absent when unauthenticated; "leave" for a user with no membership, as the
            # reference server answers.
            result["membership"] = membership or "leave"
        return result
