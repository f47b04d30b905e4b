"""Account data (client-server API, "Client Config"): ``GET``/``PUT``
``/user/{userId}/account_data/{type}`` and ``/user/{userId}/rooms/{roomId}/account_data/{type}``.

Only the user may read or write their own account data (403 otherwise); ``m.fully_read`` and
``m.push_rules`` are server-controlled (405 ``M_BAD_JSON``). Not room-versioned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from transom.api.routing import ApiRequest, Route, client_paths
from transom.core.errors import InvalidIdentifier
from transom.core.identifiers import RoomID
from transom.services.errors import Forbidden, InvalidParam, NotFound

if TYPE_CHECKING:
    from transom.app import HomeServer


def _own_user(req: ApiRequest) -> str:
    user_id = req.path("userId")
    if user_id != req.requester.user_id:
        raise Forbidden("Cannot access account data for other users.")
    return user_id


def _room_id(req: ApiRequest) -> str:
    room_id = req.path("roomId")
    try:
        RoomID.parse(room_id)
    except InvalidIdentifier:
        # 400 M_INVALID_PARAM: "the given roomID is not a valid room ID".
        raise InvalidParam(f"{room_id} is not a valid room ID.") from None
    return room_id


async def _get(req: ApiRequest, room_id: str | None) -> dict[str, Any]:
    user_id = _own_user(req)
    content = await req.hs.account_data.get(user_id, req.path("type"), room_id)
    if content is None:
        raise NotFound("Account data not found.")
    return content


async def _put(req: ApiRequest, room_id: str | None) -> dict[str, Any]:
    user_id = _own_user(req)
    content = (await req.body()).data
    await req.hs.account_data.set(user_id, req.path("type"), content, room_id)
    return {}


async def get_global(req: ApiRequest) -> dict[str, Any]:
    return await _get(req, None)


async def put_global(req: ApiRequest) -> dict[str, Any]:
    return await _put(req, None)


async def get_room(req: ApiRequest) -> dict[str, Any]:
    return await _get(req, _room_id(req))


async def put_room(req: ApiRequest) -> dict[str, Any]:
    return await _put(req, _room_id(req))


def routes(hs: HomeServer) -> list[Route]:
    global_path = client_paths("/user/{userId}/account_data/{type}")
    room_path = client_paths("/user/{userId}/rooms/{roomId}/account_data/{type}")
    return [
        Route("GET", global_path, get_global, auth=True),
        Route("PUT", global_path, put_global, auth=True),
        Route("GET", room_path, get_room, auth=True),
        Route("PUT", room_path, put_room, auth=True),
    ]
