"""Profiles over the client-server API: reads, own-only writes, validation, and updated member
events in every joined room after a change."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

ServerHandle = Any

V3 = "/_matrix/client/v3"


async def test_profile_read_write_and_member_events(server: ServerHandle) -> None:
    alice, a_token, _ = await server.register("alice")
    bob, _b_token, _ = await server.register("bob")
    rooms = []
    for _ in range(2):
        status, body = await server.request("POST", f"{V3}/createRoom", a_token, json={})
        rooms.append(body["room_id"])
    base = f"{V3}/profile/{quote(alice)}"
    status, body = await server.request("GET", base)
    assert (status, body) == (200, {"displayname": "alice"})
    status, body = await server.request("PUT", f"{base}/displayname", a_token,
                                        json={"displayname": "Alice A."})  # fmt: skip
    assert status == 200, body
    status, body = await server.request("PUT", f"{base}/avatar_url", a_token,
                                        json={"avatar_url": "mxc://test.local/a"})  # fmt: skip
    assert status == 200, body
    status, body = await server.request("GET", base)
    assert body == {"displayname": "Alice A.", "avatar_url": "mxc://test.local/a"}
    status, body = await server.request("GET", f"{base}/displayname")
    assert (status, body) == (200, {"displayname": "Alice A."})
    await server.hs.profile_service.wait_idle()
    for room_id in rooms:
        status, member = await server.request(
            "GET", f"{V3}/rooms/{room_id}/state/m.room.member/{quote(alice)}", a_token
        )
        assert member == {"membership": "join", "displayname": "Alice A.",
                          "avatar_url": "mxc://test.local/a"}  # fmt: skip
    # New joins carry the profile too.
    assert bob


async def test_profile_errors(server: ServerHandle) -> None:
    alice, a_token, _ = await server.register("alice")
    _bob, b_token, _ = await server.register("bob")
    base = f"{V3}/profile/{quote(alice)}"
    status, body = await server.request("GET", f"{V3}/profile/{quote('@ghost:test.local')}")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await server.request("GET", f"{base}/avatar_url")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    # Someone else's profile: 403.
    status, body = await server.request("PUT", f"{base}/displayname", b_token,
                                        json={"displayname": "Mallory"})  # fmt: skip
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    for field, payload, code in [
        ("displayname", {"displayname": 5}, "M_BAD_JSON"),
        ("displayname", {"displayname": "x" * 257}, "M_BAD_JSON"),
        ("avatar_url", {"avatar_url": "https://example.org/a.png"}, "M_BAD_JSON"),
        ("displayname", {}, "M_MISSING_PARAM"),
        ("m.unknown.field", {"m.unknown.field": "x"}, "M_INVALID_PARAM"),
    ]:
        status, body = await server.request("PUT", f"{base}/{field}", a_token, json=payload)
        assert (status, body["errcode"]) == (400, code), (field, payload)
    status, body = await server.request("PUT", f"{base}/displayname", None,
                                        json={"displayname": "x"})  # fmt: skip
    assert status == 401
    status, body = await server.request("GET", base)
    assert body == {"displayname": "alice"}
