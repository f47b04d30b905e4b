"""Regression tests for response shapes that the spec's schemas or real clients caught
(Client-Server API; each test names the endpoint and the rule it pins)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

ServerHandle = Any
V3 = "/_matrix/client/v3"


async def test_joined_members_omits_unset_profile_fields(server: ServerHandle) -> None:
    # GET /rooms/{roomId}/joined_members: display_name and avatar_url are optional strings,
    # never null.
    alice, token, _ = await server.register("alice")
    status, body = await server.request("POST", f"{V3}/createRoom", token, json={})
    assert status == 200, body
    room = quote(body["room_id"], safe="")
    status, body = await server.request("GET", f"{V3}/rooms/{room}/joined_members", token)
    assert status == 200, body
    member = body["joined"][alice]
    assert "avatar_url" not in member
    assert all(isinstance(v, str) for v in member.values())
