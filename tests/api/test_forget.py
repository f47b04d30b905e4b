"""POST /rooms/{roomId}/forget (client-server API "Leaving rooms"): refused while in the room;
afterwards the room is left out of the user's /sync and its history is no longer readable by
them; a later membership change (here, joining again) brings the room back."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

V3 = "/_matrix/client/v3"
INCLUDE_LEAVE = json.dumps({"room": {"include_leave": True}})


async def test_forget_hides_the_room_until_the_next_membership(server: Any) -> None:
    _, a_token, _ = await server.register("alice")
    _, b_token, _ = await server.register("bob")
    status, body = await server.request(
        "POST", f"{V3}/createRoom", a_token, json={"preset": "public_chat"}
    )
    room_id = body["room_id"]
    room = quote(room_id)
    assert (await server.request("POST", f"{V3}/join/{room}", b_token, json={}))[0] == 200
    status, sent = await server.request(
        "PUT", f"{V3}/rooms/{room}/send/m.room.message/t1", a_token, json={"body": "hi"}
    )
    event = quote(sent["event_id"], safe="")

    status, body = await server.request("POST", f"{V3}/rooms/{room}/forget", b_token, json={})
    assert (status, body["errcode"]) == (400, "M_UNKNOWN")  # still joined

    assert (await server.request("POST", f"{V3}/rooms/{room}/leave", b_token, json={}))[0] == 200
    # Before forgetting: the room is in the leave section and its history is readable.
    status, sync = await server.request(
        "GET", f"{V3}/sync", b_token, params={"filter": INCLUDE_LEAVE}
    )
    assert room_id in sync["rooms"]["leave"]
    status, _ = await server.request(
        "GET", f"{V3}/rooms/{room}/messages", b_token, params={"dir": "b"}
    )
    assert status == 200
    assert (await server.request("GET", f"{V3}/rooms/{room}/event/{event}", b_token))[0] == 200

    assert (await server.request("POST", f"{V3}/rooms/{room}/forget", b_token, json={}))[0] == 200
    status, sync = await server.request(
        "GET", f"{V3}/sync", b_token, params={"filter": INCLUDE_LEAVE}
    )
    assert room_id not in sync["rooms"].get("leave", {})
    status, _ = await server.request(
        "GET", f"{V3}/rooms/{room}/messages", b_token, params={"dir": "b"}
    )
    assert status == 403
    assert (await server.request("GET", f"{V3}/rooms/{room}/event/{event}", b_token))[0] == 404
    assert (await server.request("GET", f"{V3}/rooms/{room}/state", b_token))[0] == 403

    # Joining again clears the flag.
    assert (await server.request("POST", f"{V3}/join/{room}", b_token, json={}))[0] == 200
    status, sync = await server.request("GET", f"{V3}/sync", b_token)
    assert room_id in sync["rooms"]["join"]
    assert (await server.request("GET", f"{V3}/rooms/{room}/event/{event}", b_token))[0] == 200
