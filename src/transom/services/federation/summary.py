"""Room summaries of rooms this server is not in, asked of the servers named in ``via``.

Spec: client-server API "Room summaries" (``GET /v1/room_summary/{roomIdOrAlias}``, Matrix 1.15:
a summary of a room the server does not participate in comes over federation, and "might yield
outdated, partial or even no data" for a user who is only invited or knocking), server-server
API "Spaces" (``GET /hierarchy/{roomId}``: its ``room`` is the summary of the room itself, 404
when the requesting server could not peek or join it). All room versions; the ``knock`` join
rule is v7+, ``knock_restricted`` v10+.

The same preview rules as for local rooms apply: open join rules (``public``, ``knock``,
``knock_restricted``) or ``world_readable`` history; otherwise the user must be invited or
knocking (our out-of-band membership), or be joined to a room a ``restricted`` rule allows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from transom.core.events import JsonDict
from transom.services.errors import NotFound

if TYPE_CHECKING:
    from transom.app import HomeServer

logger = logging.getLogger(__name__)

OPEN_JOIN_RULES = frozenset({"public", "knock", "knock_restricted"})
# RoomSummary fields (room_summary.yaml) copied from the hierarchy's room when well typed.
_STRINGS = ("name", "topic", "avatar_url", "canonical_alias", "room_type", "room_version",
            "encryption", "join_rule")  # fmt: skip
_BOOLS = ("world_readable", "guest_can_join")


class RemoteRoomSummaries:
    def __init__(self, hs: HomeServer) -> None:
        self.hs = hs

    async def summary(
        self, user_id: str | None, room_id_or_alias: str, via: Sequence[str]
    ) -> JsonDict:
        """The summary from the first of ``via`` (then the alias's servers) that answers;
        404 ``M_NOT_FOUND`` when none does or the user may not preview the room."""
        room_id, alias_servers = await self.hs.rooms.directory.resolve_room_and_servers(
            room_id_or_alias
        )
        servers = dict.fromkeys(s for s in [*via, *alias_servers] if s != self.hs.server_name)
        for server in servers:
            try:
                answer = await self.hs.federation_client.get_json(
                    server, f"/_matrix/federation/v1/hierarchy/{quote(room_id, safe='')}"
                )
            except Exception as exc:  # refused (404), unreachable, or not JSON
                logger.info("Room summary of %s from %s failed: %s", room_id, server, exc)
                continue
            room = answer.get("room") if isinstance(answer, dict) else None
            if isinstance(room, dict) and room.get("room_id") == room_id:
                return await self._checked(user_id, room_id, room)
        raise NotFound("Room not found")

    async def _checked(self, user_id: str | None, room_id: str, room: dict[str, Any]) -> JsonDict:
        result: JsonDict = {"room_id": room_id}
        members = room.get("num_joined_members")
        result["num_joined_members"] = members if type(members) is int else 0
        result.update({k: room[k] for k in _STRINGS if isinstance(room.get(k), str)})
        result.update({k: room[k] for k in _BOOLS if isinstance(room.get(k), bool)})
        result.setdefault("join_rule", "public")  # PublishedRoomsChunk: "Defaults to public"
        result.setdefault("world_readable", False)
        result.setdefault("guest_can_join", False)
        allowed = room.get("allowed_room_ids")
        if isinstance(allowed, list):
            result["allowed_room_ids"] = [r for r in allowed if isinstance(r, str)]
        membership = None
        if user_id is not None:
            local = await self.hs.rooms.state.get_local_membership(user_id, room_id)
            membership = local.membership if local is not None else None
            result["membership"] = membership or "leave"
        if result["join_rule"] in OPEN_JOIN_RULES or result["world_readable"]:
            return result
        if membership in ("join", "invite", "knock"):
            return result
        if user_id is not None and result["join_rule"] in ("restricted", "knock_restricted"):
            for allowed_id in result.get("allowed_room_ids", []):
                if await self.hs.rooms.membership.membership_of(allowed_id, user_id) == "join":
                    return result
        raise NotFound("Room not found")
