"""Typing notifications (client-server API, "Typing Notifications"):
``PUT /rooms/{roomId}/typing/{userId}``. Not room-versioned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from transom.api.routing import ApiRequest, Route, client_paths
from transom.services.errors import BadJson, Forbidden, MissingParam

if TYPE_CHECKING:
    from transom.app import HomeServer


async def set_typing(req: ApiRequest) -> dict[str, Any]:
    user_id = req.path("userId")
    if user_id != req.requester.user_id:
        raise Forbidden("Cannot set another user's typing state")
    body = await req.body()
    typing = body.raw("typing")
    if typing is None:
        raise MissingParam("Missing 'typing'")
    if not isinstance(typing, bool):
        raise BadJson("'typing' must be a boolean")
    timeout = body.opt_int("timeout")
    await req.hs.typing.set_typing(user_id, req.path("roomId"), typing, timeout)
    return {}


def routes(hs: HomeServer) -> list[Route]:
    return [
        Route("PUT", client_paths("/rooms/{roomId}/typing/{userId}"), set_typing, auth=True),
    ]
