"""Federation queries, the public room directory and the space hierarchy over federation.

Spec: server-server API "Querying for information" (``/query/directory``: the room ID and the
servers in the room for one of our aliases; ``/query/profile``: ``displayname``/``avatar_url``,
or the one ``field`` asked for), "Public Room Directory" (``GET``/``POST /publicRooms``; like
Synapse, served only when ``allow_public_rooms_over_federation`` is set), "Spaces"
(``/hierarchy/{roomId}``: this answer covers the room itself, without children's details).
All room versions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from transom.core.errors import InvalidIdentifier, MatrixProtocolError
from transom.core.identifiers import RoomAlias, UserID
from transom.services.errors import Forbidden, InvalidParam, NotFound

if TYPE_CHECKING:
    from transom.app import HomeServer

PROFILE_FIELDS = ("displayname", "avatar_url")


class FederationQueries:
    def __init__(self, hs: HomeServer) -> None:
        self.hs = hs
        self.server_name = hs.server_name

    # Serving ----------------------------------------------------------------------------------

    async def directory(self, alias: str) -> dict[str, Any]:
        try:
            parsed = RoomAlias.parse(alias)
        except InvalidIdentifier:
            raise InvalidParam(f"Invalid room alias {alias!r}") from None
        if parsed.domain != self.server_name:
            raise NotFound(f"Room alias {alias} is not on this server")
        found = await self.hs.rooms.rooms.get_alias(alias)
        if found is None:
            raise NotFound(f"Room alias {alias} not found")
        room_id = found[0]
        hosts = await self.hs.rooms.state.get_joined_hosts(room_id)
        servers = [self.server_name, *sorted(h for h in hosts if h != self.server_name)]
        return {"room_id": room_id, "servers": servers}

    async def profile(self, user_id: str, field: str | None) -> dict[str, Any]:
        try:
            parsed = UserID.parse(user_id)
        except InvalidIdentifier:
            raise InvalidParam(f"Invalid user ID {user_id!r}") from None
        if parsed.domain != self.server_name:
            raise InvalidParam("The user is not on this server")
        if await self.hs.store.accounts.get_user(user_id) is None:
            raise NotFound("Profile was not found")
        # The profile clients see (GET /profile), the display name defaulting to the localpart.
        profile = await self.hs.rooms.membership.profile_content(user_id)
        if field is not None:
            value = profile.get(field)
            if value is None:
                raise NotFound(f"The user has no {field}")
            return {field: value}
        return {k: profile[k] for k in PROFILE_FIELDS if profile.get(k) is not None}

    async def public_rooms(
        self, *, limit: int | None, since: str | None, search_term: str | None
    ) -> dict[str, Any]:
        if not self.hs.config.allow_public_rooms_over_federation:
            raise Forbidden("This server does not share its room directory over federation")
        result: dict[str, Any] = await self.hs.directory.public_rooms(
            limit=limit, since=since, search_term=search_term, server=None
        )
        return result

    async def hierarchy(self, origin: str, room_id: str) -> dict[str, Any]:
        """The room itself (it must be world-readable, joinable or knockable by anyone, or have a
        member on ``origin``); children are listed through its ``m.space.child`` events only."""
        rooms = self.hs.rooms
        if await rooms.rooms.get_room_version(room_id) is None:
            raise NotFound("Unknown room")
        state_ids = await rooms.state.get_current_state_ids(room_id)
        events = await rooms.events.get_events(state_ids.values())
        state = {k: events[v] for k, v in state_ids.items() if v in events}
        summary = await self.hs.directory.room_summary(room_id)
        # space_hierarchy.yaml 404: a room the requesting server could not "peek/join". Knock
        # rooms (``knock`` v7+, ``knock_restricted`` v10+) are open to preview before knocking,
        # as the client-server "Room summaries" rules say.
        visible = (
            summary.get("world_readable")
            or summary.get("join_rule") in ("public", "knock", "knock_restricted")
            or origin in await rooms.state.get_joined_hosts(room_id)
        )
        if not visible:
            raise NotFound("The room is not accessible")
        children = [
            {
                "type": e.type,
                "state_key": e.state_key,
                "content": e.content,
                "sender": e.sender,
                "origin_server_ts": e.origin_server_ts,
            }
            for (event_type, _), e in sorted(state.items())
            if event_type == "m.space.child" and e.content.get("via")
        ]
        room = {**summary, "children_state": children}
        return {"room": room, "children": [], "inaccessible_children": []}

    # Asking other servers ---------------------------------------------------------------------

    async def remote_public_rooms(
        self, server: str, *, limit: int | None, since: str | None, search_term: str | None
    ) -> dict[str, Any]:
        """Another server's published rooms ("Public Room Directory"): ``GET /publicRooms``,
        or ``POST`` with a ``filter`` when searching; 404 when the server refuses or fails."""
        path = "/_matrix/federation/v1/publicRooms"
        try:
            if search_term:
                body: dict[str, Any] = {"filter": {"generic_search_term": search_term}}
                if limit is not None:
                    body["limit"] = limit
                if since is not None:
                    body["since"] = since
                answer = await self.hs.federation_client.post_json(server, path, body)
            else:
                query: dict[str, Any] = {}
                if limit is not None:
                    query["limit"] = str(limit)
                if since is not None:
                    query["since"] = since
                answer = await self.hs.federation_client.get_json(server, path, query=query)
        except Exception as exc:
            raise NotFound(f"Cannot list the public rooms of {server}: {exc}") from None
        if not isinstance(answer, dict) or not isinstance(answer.get("chunk"), list):
            raise NotFound(f"Cannot list the public rooms of {server}: malformed answer")
        return answer

    async def remote_profile(self, user_id: str) -> dict[str, str]:
        """Ask a remote user's server for their profile (``/query/profile``, all fields);
        404 when that server knows no such user or cannot be reached."""
        try:
            server = UserID.parse(user_id).domain
        except InvalidIdentifier:
            raise InvalidParam(f"Invalid user ID {user_id!r}") from None
        try:
            answer = await self.hs.federation_client.get_json(
                server, "/_matrix/federation/v1/query/profile", query={"user_id": user_id}
            )
        except Exception as exc:
            raise NotFound(f"Profile not found: {exc}") from None
        if not isinstance(answer, dict):
            raise NotFound("Profile not found")
        return {f: answer[f] for f in PROFILE_FIELDS if isinstance(answer.get(f), str)}

    async def resolve_remote_alias(self, alias: str) -> tuple[str, list[str]]:
        """Ask the alias's server for its room ID and the servers in the room."""
        try:
            parsed = RoomAlias.parse(alias)
        except InvalidIdentifier:
            raise InvalidParam(f"Invalid room alias {alias!r}") from None
        server = parsed.domain
        try:
            answer = await self.hs.federation_client.get_json(
                server, "/_matrix/federation/v1/query/directory", query={"room_alias": alias}
            )
        except MatrixProtocolError:
            raise
        except Exception as exc:
            raise NotFound(f"Room alias {alias} not found: {exc}") from None
        room_id = answer.get("room_id") if isinstance(answer, dict) else None
        if not isinstance(room_id, str):
            raise NotFound(f"Room alias {alias} not found")
        servers = answer.get("servers")
        listed = [s for s in servers if isinstance(s, str)] if isinstance(servers, list) else []
        return room_id, [server, *[s for s in listed if s != server]]
