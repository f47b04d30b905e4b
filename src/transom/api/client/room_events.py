"""Sending and reading room events and state (client-server API, "Sending events to a room",
"Getting events for a room": ``/send``, ``/state``, ``/event``, ``/members``,
``/joined_members``).

Reads are allowed only to those the room's history visibility admits
(``RoomService.require_can_read``): a knocker, for one, sees none of the room's content.
"""

from __future__ import annotations

from typing import Any

from transom.api.routing import ApiRequest, Route, client_paths
from transom.services.errors import BadJson, NotFound
from transom.services.rooms.events import EventDraft


async def _json_object(req: ApiRequest) -> dict[str, Any]:
    return (await req.body()).data


async def send(req: ApiRequest) -> dict[str, Any]:
    content = await _json_object(req)
    requester = req.requester
    txn = (requester.user_id, requester.device_id or "", req.path("txnId"))
    event = await req.hs.rooms.creator.send(
        req.path("roomId"),
        EventDraft(requester.user_id, req.path("eventType"), content),
        txn=txn,
    )
    return {"event_id": event.event_id}


async def put_state(req: ApiRequest) -> dict[str, Any]:
    content = await _json_object(req)
    event_type = req.path("eventType")
    state_key = req.http.match_info.get("stateKey", "")
    user_id = req.requester.user_id
    if event_type == "m.room.member":
        membership = content.get("membership")
        if not isinstance(membership, str):
            raise BadJson("'membership' must be a string")
        if membership == "knock" and state_key == user_id:
            # A knock through the state API gets /knock's checks and rc_knocks limits.
            reason = content.get("reason")
            if reason is not None and not isinstance(reason, str):
                raise BadJson("'reason' must be a string")
            knock = await req.hs.knocking.knock_local(user_id, req.path("roomId"), reason=reason)
            return {"event_id": knock.event_id}
    event = await req.hs.rooms.creator.send(
        req.path("roomId"), EventDraft(user_id, event_type, content, state_key)
    )
    return {"event_id": event.event_id}


async def get_state(req: ApiRequest) -> Any:
    room_id = req.path("roomId")
    state = await req.hs.rooms.visible_state(req.requester.user_id, room_id)
    return (200, await req.hs.rooms.serialize(state.values()))


async def get_state_event(req: ApiRequest) -> dict[str, Any]:
    room_id = req.path("roomId")
    key = (req.path("eventType"), req.http.match_info.get("stateKey", ""))
    state = await req.hs.rooms.visible_state(req.requester.user_id, room_id)
    event = state.get(key)
    if event is None:
        raise NotFound("Event not found")
    if req.query("format") == "event":
        return (await req.hs.rooms.serialize([event]))[0]
    return dict(event.content)


async def get_event(req: ApiRequest) -> dict[str, Any]:
    event = await req.hs.rooms.visible_event(
        req.requester.user_id, req.path("roomId"), req.path("eventId")
    )
    return (await req.hs.rooms.serialize([event]))[0]


async def members(req: ApiRequest) -> dict[str, Any]:
    room_id = req.path("roomId")
    state = await req.hs.rooms.visible_state(req.requester.user_id, room_id)
    include = req.query("membership")
    exclude = req.query("not_membership")
    chosen = [
        event
        for (event_type, _), event in sorted(state.items())
        if event_type == "m.room.member"
        and (include is None or event.membership == include)
        and (exclude is None or event.membership != exclude)
    ]
    return {"chunk": await req.hs.rooms.serialize(chosen)}


async def joined_members(req: ApiRequest) -> dict[str, Any]:
    room_id = req.path("roomId")
    state = await req.hs.rooms.visible_state(req.requester.user_id, room_id, joined_only=True)
    joined: dict[str, Any] = {}
    for (event_type, state_key), event in state.items():
        if event_type == "m.room.member" and event.membership == "join":
            # Client-Server API, "GET /rooms/{roomId}/joined_members" (all room versions):
            # display_name and avatar_url are optional strings, so absent or non-string
            # values are left out rather than sent as null.
            fields = {"display_name": "displayname", "avatar_url": "avatar_url"}
            joined[state_key] = {
                key: event.content[source]
                for key, source in fields.items()
                if isinstance(event.content.get(source), str)
            }
    return {"joined": joined}


def routes(hs: object) -> list[Route]:
    return [
        Route("PUT", client_paths("/rooms/{roomId}/send/{eventType}/{txnId}"), send,
              auth=True, ratelimit="message"),
        Route("PUT", client_paths("/rooms/{roomId}/state/{eventType}/{stateKey}"), put_state,
              auth=True),
        Route("PUT", client_paths("/rooms/{roomId}/state/{eventType}"), put_state, auth=True),
        # An empty state key as a trailing slash (mautrix sends it so).
        Route("PUT", client_paths("/rooms/{roomId}/state/{eventType}/"), put_state, auth=True),
        Route("GET", client_paths("/rooms/{roomId}/state/{eventType}/"), get_state_event,
              auth=True),
        Route("GET", client_paths("/rooms/{roomId}/state"), get_state, auth=True),
        Route("GET", client_paths("/rooms/{roomId}/state/{eventType}/{stateKey}"),
              get_state_event, auth=True),
        Route("GET", client_paths("/rooms/{roomId}/state/{eventType}"), get_state_event,
              auth=True),
        Route("GET", client_paths("/rooms/{roomId}/event/{eventId}"), get_event, auth=True),
        Route("GET", client_paths("/rooms/{roomId}/members"), members, auth=True),
        Route("GET", client_paths("/rooms/{roomId}/joined_members"), joined_members, auth=True),
    ]  # fmt: skip
