"""Knocking over federation (server-server API "Knocking upon a room", room versions 7+):
``GET /_matrix/federation/v1/make_knock/{roomId}/{userId}`` (``ver`` required and repeatable)
and ``PUT /_matrix/federation/v1/send_knock/{roomId}/{eventId}``.

An incompatible room version is 400 ``M_INCOMPATIBLE_ROOM_VERSION`` with ``room_version``, which
the knocking server passes on to its client.
"""

from __future__ import annotations

from typing import Any

from transom.api.routing import ApiRequest, Route
from transom.services.federation.membership import IncompatibleRoomVersion

V1 = "/_matrix/federation/v1"


async def make_knock(req: ApiRequest) -> Any:
    versions = req.http.query.getall("ver", [])
    try:
        return await req.hs.federation_knocking.make_knock(
            req.origin, req.path("roomId"), req.path("userId"), versions
        )
    except IncompatibleRoomVersion as exc:
        return 400, {"errcode": exc.errcode, "error": exc.message, "room_version": exc.room_version}


async def send_knock(req: ApiRequest) -> Any:
    body = await req.body()
    return await req.hs.federation_knocking.send_knock(
        req.origin, req.path("roomId"), req.path("eventId"), body.data
    )


def routes(hs: object) -> list[Route]:
    return [
        Route("GET", (f"{V1}/make_knock/{{roomId}}/{{userId}}",), make_knock, federation=True),
        Route("PUT", (f"{V1}/send_knock/{{roomId}}/{{eventId}}",), send_knock, federation=True),
    ]
