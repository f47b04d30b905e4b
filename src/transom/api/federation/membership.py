"""Membership handshakes over federation (server-server API "Joining Rooms", "Leaving Rooms
(Rejecting Invites)", "Inviting to a room"): ``make_join``, ``send_join`` (v1, v2),
``make_leave``, ``send_leave`` (v1, v2), ``invite`` (v1, v2).

v1 endpoints answer the legacy ``[200, body]`` array; v2 the body itself. An incompatible room
version is 400 ``M_INCOMPATIBLE_ROOM_VERSION`` with ``room_version``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from transom.api.http import json_response
from transom.api.routing import ApiRequest, Route
from transom.services.federation.membership import IncompatibleRoomVersion

V1 = "/_matrix/federation/v1"
V2 = "/_matrix/federation/v2"

Handler = Callable[[ApiRequest], Awaitable[Any]]


def _incompatible(exc: IncompatibleRoomVersion) -> tuple[int, dict[str, Any]]:
    return 400, {"errcode": exc.errcode, "error": exc.message, "room_version": exc.room_version}


def _v1(handler: Handler) -> Callable[[ApiRequest], Awaitable[web.StreamResponse]]:
    """The v1 shape: ``[200, body]`` (a JSON array, so built here rather than by the router)."""

    async def wrapped(req: ApiRequest) -> web.StreamResponse:
        result = await handler(req)
        if isinstance(result, tuple):
            return json_response(result[1], status=result[0])
        return json_response([200, result])

    return wrapped


async def make_join(req: ApiRequest) -> Any:
    versions = req.http.query.getall("ver", [])
    try:
        return await req.hs.federation_membership.make_join(
            req.origin, req.path("roomId"), req.path("userId"), versions
        )
    except IncompatibleRoomVersion as exc:
        return _incompatible(exc)


async def send_join(req: ApiRequest) -> Any:
    body = await req.body()
    return await req.hs.federation_membership.send_join(
        req.origin, req.path("roomId"), req.path("eventId"), body.data
    )


async def make_leave(req: ApiRequest) -> Any:
    return await req.hs.federation_membership.make_leave(
        req.origin, req.path("roomId"), req.path("userId")
    )


async def send_leave(req: ApiRequest) -> Any:
    body = await req.body()
    await req.hs.federation_membership.send_leave(
        req.origin, req.path("roomId"), req.path("eventId"), body.data
    )
    return {}


async def invite_v2(req: ApiRequest) -> Any:
    body = (await req.body()).data
    data = body if isinstance(body, dict) else {}
    try:
        event = await req.hs.federation_membership.on_invite(
            req.origin, req.path("roomId"), req.path("eventId"), data.get("room_version"),
            data.get("event"), data.get("invite_room_state"),
        )  # fmt: skip
    except IncompatibleRoomVersion as exc:
        return _incompatible(exc)
    return {"event": event}


async def invite_v1(req: ApiRequest) -> Any:
    """v1 (room versions 1 and 2 only, whose events share one format): the body is the event
    and the stripped state travels in its ``unsigned.invite_room_state``."""
    body = (await req.body()).data
    event = body if isinstance(body, dict) else {}
    unsigned = event.get("unsigned")
    state = unsigned.get("invite_room_state") if isinstance(unsigned, dict) else None
    # A server-assigned event_id marks the v1/v2 format; later versions must use v2.
    version = "1" if isinstance(event.get("event_id"), str) else None
    try:
        signed = await req.hs.federation_membership.on_invite(
            req.origin, req.path("roomId"), req.path("eventId"), version, event, state
        )
    except IncompatibleRoomVersion as exc:
        return _incompatible(exc)
    return {"event": signed}


def routes(hs: object) -> list[Route]:
    table: list[tuple[str, str, Any]] = [
        ("GET", f"{V1}/make_join/{{roomId}}/{{userId}}", make_join),
        ("PUT", f"{V1}/send_join/{{roomId}}/{{eventId}}", _v1(send_join)),
        ("PUT", f"{V2}/send_join/{{roomId}}/{{eventId}}", send_join),
        ("GET", f"{V1}/make_leave/{{roomId}}/{{userId}}", make_leave),
        ("PUT", f"{V1}/send_leave/{{roomId}}/{{eventId}}", _v1(send_leave)),
        ("PUT", f"{V2}/send_leave/{{roomId}}/{{eventId}}", send_leave),
        ("PUT", f"{V1}/invite/{{roomId}}/{{eventId}}", _v1(invite_v1)),
        ("PUT", f"{V2}/invite/{{roomId}}/{{eventId}}", invite_v2),
    ]
    return [Route(method, (path,), handler, federation=True) for method, path, handler in table]
