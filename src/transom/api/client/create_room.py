"""``POST /createRoom`` (client-server API, "Creation")."""

from __future__ import annotations

from typing import Any

from transom.api.routing import ApiRequest, Route, client_paths
from transom.services.rooms.creation import parse_create_room


async def create_room(req: ApiRequest) -> dict[str, Any]:
    body = await req.body()
    request = parse_create_room(body.data, req.hs.config.default_room_version)
    room_id, _alias = await req.hs.rooms.room_creator.create_room(req.requester.user_id, request)
    return {"room_id": room_id}


def routes(hs: object) -> list[Route]:
    return [Route("POST", client_paths("/createRoom"), create_room, auth=True)]
