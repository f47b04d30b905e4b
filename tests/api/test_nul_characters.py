"""U+0000 cannot be stored in text columns on PostgreSQL: requests carrying it in a path
parameter, an event type or a state key are refused with 400 on both engines, never a 500."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

V3 = "/_matrix/client/v3"


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_nul_in_path_and_state_key_is_400(engine: str, make_server: Any) -> None:
    server = await make_server()
    _, token, _ = await server.register("alice")
    status, body = await server.request("POST", f"{V3}/createRoom", token, json={})
    room = quote(body["room_id"])
    status, body = await server.request(
        "PUT", f"{V3}/rooms/{room}/send/m.room.message/a%00b", token, json={"body": "x"}
    )
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await server.request(
        "PUT", f"{V3}/rooms/{room}/state/m.room.topic/k%00", token, json={"topic": "x"}
    )
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await server.request(
        "POST",
        f"{V3}/createRoom",
        token,
        json={"initial_state": [{"type": "x.y", "state_key": "a\u0000", "content": {}}]},
    )
    assert status == 400 and body["errcode"] in ("M_BAD_JSON", "M_INVALID_ROOM_STATE"), body
    # Nothing broke: the room still takes messages.
    status, _ = await server.request(
        "PUT", f"{V3}/rooms/{room}/send/m.room.message/ok", token, json={"body": "x"}
    )
    assert status == 200
