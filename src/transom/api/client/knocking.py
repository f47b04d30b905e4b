"""Knocking (client-server API "Knocking on rooms": ``POST /v3/knock/{roomIdOrAlias}``, room
versions 7+), also served at r0 and at ``POST /rooms/{roomId}/knock``, the path of the knocking
proposal's early draft (MSC2403) that some clients still call. Only the standard's semantics are
followed there: no knocking on ``invite`` rooms, no ``private`` join rule, no ``knock`` level.

Servers to knock through come from the repeatable ``via`` query parameter (Matrix 1.12) and the
older ``server_name`` one (mautrix sends only ``server_name``; matrix-js-sdk sends both); both
are merged. Rate limiting is the service's (``rc_knocks``), so repeats and refusals cost nothing.
"""

from __future__ import annotations

from typing import Any

from transom.api.routing import ApiRequest, Route, client_paths


def servers_from_query(req: ApiRequest) -> list[str]:
    """``via`` then ``server_name`` values, in order, without duplicates."""
    servers: list[str] = []
    for name in ("via", "server_name"):
        for value in req.http.query.getall(name, []):
            if value and value not in servers:
                servers.append(value)
    return servers


async def _knock(req: ApiRequest, room_id_or_alias: str) -> dict[str, Any]:
    body = await req.body()
    room_id = await req.hs.knocking.knock(
        req.requester.user_id,
        room_id_or_alias,
        reason=body.opt_str("reason"),
        via=servers_from_query(req),
    )
    return {"room_id": room_id}


async def knock(req: ApiRequest) -> dict[str, Any]:
    return await _knock(req, req.path("roomIdOrAlias"))


async def knock_by_room_id(req: ApiRequest) -> dict[str, Any]:
    return await _knock(req, req.path("roomId"))


def routes(hs: object) -> list[Route]:
    return [
        Route("POST", client_paths("/knock/{roomIdOrAlias}"), knock, auth=True),
        Route("POST", client_paths("/rooms/{roomId}/knock"), knock_by_room_id, auth=True),
    ]
