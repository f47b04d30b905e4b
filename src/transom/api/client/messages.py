"""Reading a room's history (client-server API "Getting events for a room"):
``GET /rooms/{roomId}/messages`` and ``GET /rooms/{roomId}/context/{eventId}``.

Their ``filter`` is a ``RoomEventFilter`` parsed by the shared filter module, as ``/sync``'s
(client-server API "Filtering"); the ``limit`` query parameter wins over the filter's own.
"""

from __future__ import annotations

from typing import Any

from transom.api.routing import ApiRequest, Route, client_paths
from transom.services.errors import InvalidParam, MissingParam
from transom.services.filtering import parse_room_event_filter
from transom.services.rooms.messages import clamp_limit


async def messages(req: ApiRequest) -> dict[str, Any]:
    direction = req.query("dir")
    if direction is None:
        # Required since v3; r0 clients could leave it out (backwards).
        if req.http.path.startswith("/_matrix/client/v3/"):
            raise MissingParam("Missing 'dir' parameter")
        direction = "b"
    if direction not in ("b", "f"):
        raise InvalidParam("'dir' must be 'b' or 'f'")
    event_filter = parse_room_event_filter(req.query("filter"))
    limit = clamp_limit(req.query("limit"), event_filter.limit or 10)
    hs = req.hs
    room_id = req.path("roomId")
    page = await hs.messages.paginate(
        req.requester.user_id,
        room_id,
        from_token=req.query("from"),
        to_token=req.query("to"),
        backwards=direction == "b",
        limit=limit,
        event_filter=event_filter,
    )
    body: dict[str, Any] = {"chunk": await hs.rooms.serialize(page.chunk), "start": page.start}
    if page.end is not None:
        body["end"] = page.end
    if event_filter.lazy_load_members:
        members = await hs.messages.lazy_members(room_id, page.chunk, None)
        body["state"] = await hs.rooms.serialize(members)
    return body


async def context(req: ApiRequest) -> dict[str, Any]:
    event_filter = parse_room_event_filter(req.query("filter"))
    limit = clamp_limit(req.query("limit"), event_filter.limit or 10)
    hs = req.hs
    result = await hs.messages.context(
        req.requester.user_id,
        req.path("roomId"),
        req.path("eventId"),
        limit=limit,
        event_filter=event_filter,
    )
    return {
        "event": (await hs.rooms.serialize([result["event"]]))[0],
        "events_before": await hs.rooms.serialize(result["events_before"]),
        "events_after": await hs.rooms.serialize(result["events_after"]),
        "state": await hs.rooms.serialize(result["state"]),
        "start": result["start"],
        "end": result["end"],
    }


def routes(hs: object) -> list[Route]:
    return [
        Route("GET", client_paths("/rooms/{roomId}/messages"), messages, auth=True),
        Route("GET", client_paths("/rooms/{roomId}/context/{eventId}"), context, auth=True),
    ]
