"""Room membership endpoints (client-server API, "Room membership": joining, inviting,
leaving, kicking, banning, unbanning, forgetting; ``/joined_rooms``).

Each handler parses, calls one service method, serialises. The room version's authorization
rules decide every change; refusals are 403 ``M_FORBIDDEN`` with the failed rule's reason.
"""

from __future__ import annotations

from typing import Any

from transom.api.routing import ApiRequest, Route, client_paths
from transom.core.errors import MatrixProtocolError
from transom.core.identifiers import UserID
from transom.services.errors import InvalidParam


def _target(value: str) -> str:
    try:
        UserID.parse(value)
    except MatrixProtocolError:
        raise InvalidParam(f"Invalid user ID: {value!r}") from None
    return value


def _via(req: ApiRequest) -> list[str]:
    """joining.yaml: ``via`` (v1.12+) and its deprecated twin ``server_name`` name the servers
    to join through."""
    return [*req.http.query.getall("via", []), *req.http.query.getall("server_name", [])]


async def join_by_id(req: ApiRequest) -> dict[str, Any]:
    body = await req.body()
    room_id = await req.hs.rooms.directory.resolve_room(req.path("roomId"))
    await req.hs.rooms.join(
        req.requester.user_id, room_id, reason=body.opt_str("reason"), via=_via(req)
    )
    return {"room_id": room_id}


async def join_by_id_or_alias(req: ApiRequest) -> dict[str, Any]:
    body = await req.body()
    room_id, servers = await req.hs.rooms.directory.resolve_room_and_servers(
        req.path("roomIdOrAlias")
    )
    await req.hs.rooms.join(
        req.requester.user_id, room_id, reason=body.opt_str("reason"), via=[*_via(req), *servers]
    )
    return {"room_id": room_id}


async def invite(req: ApiRequest) -> dict[str, Any]:
    body = await req.body()
    target = _target(body.req_str("user_id"))
    room_id = req.path("roomId")
    req.hs.ratelimiters.invites_per_room.check(room_id)
    req.hs.ratelimiters.invites_per_user.check(target)
    await req.hs.rooms.invite(req.requester.user_id, room_id, target, reason=body.opt_str("reason"))
    return {}


async def leave(req: ApiRequest) -> dict[str, Any]:
    body = await req.body()
    user_id = req.requester.user_id
    await req.hs.rooms.leave(user_id, req.path("roomId"), reason=body.opt_str("reason"))
    return {}


async def kick(req: ApiRequest) -> dict[str, Any]:
    body = await req.body()
    target = _target(body.req_str("user_id"))
    await req.hs.rooms.membership.change(
        req.requester.user_id, req.path("roomId"), target, "leave", reason=body.opt_str("reason")
    )
    return {}


async def ban(req: ApiRequest) -> dict[str, Any]:
    body = await req.body()
    target = _target(body.req_str("user_id"))
    await req.hs.rooms.membership.change(
        req.requester.user_id, req.path("roomId"), target, "ban", reason=body.opt_str("reason")
    )
    return {}


async def unban(req: ApiRequest) -> dict[str, Any]:
    body = await req.body()
    target = _target(body.req_str("user_id"))
    await req.hs.rooms.unban(
        req.requester.user_id, req.path("roomId"), target, reason=body.opt_str("reason")
    )
    return {}


async def forget(req: ApiRequest) -> dict[str, Any]:
    await req.hs.rooms.forget(req.requester.user_id, req.path("roomId"))
    return {}


async def joined_rooms(req: ApiRequest) -> dict[str, Any]:
    memberships = await req.hs.rooms.state.get_local_memberships(req.requester.user_id, ["join"])
    return {"joined_rooms": [m.room_id for m in memberships]}


def routes(hs: object) -> list[Route]:
    return [
        Route("POST", client_paths("/rooms/{roomId}/join"), join_by_id, auth=True,
              ratelimit="joins_local"),
        Route("POST", client_paths("/join/{roomIdOrAlias}"), join_by_id_or_alias, auth=True,
              ratelimit="joins_local"),
        Route("POST", client_paths("/rooms/{roomId}/invite"), invite, auth=True),
        Route("POST", client_paths("/rooms/{roomId}/leave"), leave, auth=True),
        Route("POST", client_paths("/rooms/{roomId}/kick"), kick, auth=True),
        Route("POST", client_paths("/rooms/{roomId}/ban"), ban, auth=True),
        Route("POST", client_paths("/rooms/{roomId}/unban"), unban, auth=True),
        Route("POST", client_paths("/rooms/{roomId}/forget"), forget, auth=True),
        Route("GET", client_paths("/joined_rooms"), joined_rooms, auth=True),
    ]  # fmt: skip
