"""Room aliases and the room directory (client-server API "Room aliases", "Listing rooms"):
``PUT/GET/DELETE /directory/room/{roomAlias}``, ``GET /rooms/{roomId}/aliases``,
``GET/PUT /directory/list/room/{roomId}``, ``GET/POST /publicRooms``.
"""

from __future__ import annotations

from typing import Any

from transom.api.routing import ApiRequest, Route, client_paths
from transom.services.errors import BadJson, InvalidParam


async def put_alias(req: ApiRequest) -> dict[str, Any]:
    room_id = (await req.body()).req_str("room_id")
    await req.hs.directory.create_alias(req.requester.user_id, req.path("roomAlias"), room_id)
    return {}


async def get_alias(req: ApiRequest) -> dict[str, Any]:
    return await req.hs.directory.resolve_alias(req.path("roomAlias"))


async def delete_alias(req: ApiRequest) -> dict[str, Any]:
    await req.hs.directory.delete_alias(req.requester.user_id, req.path("roomAlias"))
    return {}


async def room_aliases(req: ApiRequest) -> dict[str, Any]:
    aliases = await req.hs.directory.local_aliases(req.requester.user_id, req.path("roomId"))
    return {"aliases": aliases}


async def get_visibility(req: ApiRequest) -> dict[str, Any]:
    return {"visibility": await req.hs.directory.get_visibility(req.path("roomId"))}


async def put_visibility(req: ApiRequest) -> dict[str, Any]:
    body = await req.body()
    visibility = body.opt_str("visibility") or "public"
    await req.hs.directory.set_visibility(req.requester.user_id, req.path("roomId"), visibility)
    return {}


def _int_param(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidParam("limit must be an integer") from None


async def public_rooms_get(req: ApiRequest) -> dict[str, Any]:
    return await req.hs.directory.public_rooms(
        limit=_int_param(req.query("limit")),
        since=req.query("since"),
        search_term=None,
        server=req.query("server"),
    )


async def public_rooms_post(req: ApiRequest) -> dict[str, Any]:
    body = await req.body()
    filter_ = body.opt_dict("filter") or {}
    term = filter_.get("generic_search_term")
    if term is not None and not isinstance(term, str):
        raise BadJson("generic_search_term must be a string")
    return await req.hs.directory.public_rooms(
        limit=body.opt_int("limit"),
        since=body.opt_str("since"),
        search_term=term,
        server=req.query("server"),
    )


def routes(hs: object) -> list[Route]:
    return [
        Route("PUT", client_paths("/directory/room/{roomAlias}"), put_alias, auth=True),
        Route("GET", client_paths("/directory/room/{roomAlias}"), get_alias),
        Route("DELETE", client_paths("/directory/room/{roomAlias}"), delete_alias, auth=True),
        Route("GET", client_paths("/rooms/{roomId}/aliases"), room_aliases, auth=True),
        Route("GET", client_paths("/directory/list/room/{roomId}"), get_visibility),
        Route("PUT", client_paths("/directory/list/room/{roomId}"), put_visibility, auth=True),
        Route("GET", client_paths("/publicRooms"), public_rooms_get),
        Route("POST", client_paths("/publicRooms"), public_rooms_post, auth=True),
    ]
