"""Room tagging (client-server API, "Room Tagging"): ``GET /user/{userId}/rooms/{roomId}/tags``,
``PUT`` and ``DELETE /user/{userId}/rooms/{roomId}/tags/{tag}``. Not room-versioned.

The tags of a room are the user's ``m.tag`` room account data (``{"tags": {tag: TagInfo}}``),
so they reach the user's clients through ``/sync`` like any other room account data. Only the
user may read or change their own tags (403, as for account data).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from transom.api.client.account_data import _own_user, _room_id
from transom.api.routing import ApiRequest, Route, client_paths
from transom.services.errors import BadJson

if TYPE_CHECKING:
    from transom.app import HomeServer

TAG_TYPE = "m.tag"
# Read-modify-write of one user's m.tag must not interleave within this process.
_locks: dict[tuple[str, str], asyncio.Lock] = {}


async def _tags(req: ApiRequest, user_id: str, room_id: str) -> dict[str, Any]:
    content = await req.hs.account_data.get(user_id, TAG_TYPE, room_id) or {}
    tags = content.get("tags")
    return dict(tags) if isinstance(tags, dict) else {}


async def get_tags(req: ApiRequest) -> dict[str, Any]:
    user_id = _own_user(req)
    return {"tags": await _tags(req, user_id, _room_id(req))}


async def _update(req: ApiRequest, info: dict[str, Any] | None) -> dict[str, Any]:
    user_id = _own_user(req)
    room_id = _room_id(req)
    tag = req.path("tag")
    lock = _locks.setdefault((user_id, room_id), asyncio.Lock())
    async with lock:
        tags = await _tags(req, user_id, room_id)
        if info is None:
            tags.pop(tag, None)
        else:
            tags[tag] = info
        await req.hs.account_data.set(user_id, TAG_TYPE, {"tags": tags}, room_id)
    return {}


async def put_tag(req: ApiRequest) -> dict[str, Any]:
    info = (await req.body()).data
    # "Room Tagging", Tag definition: "order" is a number (a position between 0 and 1).
    order = info.get("order")
    if "order" in info and (not isinstance(order, int | float) or isinstance(order, bool)):
        raise BadJson("order must be a number")
    return await _update(req, dict(info))


async def delete_tag(req: ApiRequest) -> dict[str, Any]:
    return await _update(req, None)


def routes(hs: HomeServer) -> list[Route]:
    one = client_paths("/user/{userId}/rooms/{roomId}/tags/{tag}")
    return [
        Route("GET", client_paths("/user/{userId}/rooms/{roomId}/tags"), get_tags, auth=True),
        Route("PUT", one, put_tag, auth=True),
        Route("DELETE", one, delete_tag, auth=True),
    ]
