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


async def test_create_room_rejects_non_string_preset(server: ServerHandle) -> None:
    # POST /createRoom: "preset" is an enum of strings; an object or list is 400 M_BAD_JSON
    # (it was a 500 from an unhashable lookup, found by the schemathesis run).
    _, token, _ = await server.register("alice")
    for preset in ({}, {"a": 1}, ["public_chat"], 3):
        status, body = await server.request(
            "POST", f"{V3}/createRoom", token, json={"preset": preset}
        )
        assert status == 400, (preset, body)
        assert body["errcode"] == "M_BAD_JSON"


async def test_room_tags(server: ServerHandle) -> None:
    # "Room Tagging" (mautrix's set_room_tag found it missing): tags are the user's m.tag room
    # account data, delivered through /sync; only the user may read or change them.
    alice, token, _ = await server.register("alice")
    _, bob_token, _ = await server.register("bob")
    status, body = await server.request("POST", f"{V3}/createRoom", token, json={})
    room_id = body["room_id"]
    base = f"{V3}/user/{quote(alice, safe='')}/rooms/{quote(room_id, safe='')}/tags"
    status, body = await server.request("GET", base, token)
    assert (status, body) == (200, {"tags": {}})
    for tag, info in (("m.favourite", {"order": 0.25}), ("u.work", {})):
        status, body = await server.request("PUT", f"{base}/{tag}", token, json=info)
        assert (status, body) == (200, {}), body
    status, body = await server.request("PUT", f"{base}/u.bad", token, json={"order": "x"})
    assert status == 400 and body["errcode"] == "M_BAD_JSON"
    status, body = await server.request("GET", base, token)
    assert body == {"tags": {"m.favourite": {"order": 0.25}, "u.work": {}}}
    status, body = await server.request("GET", f"{V3}/sync", token, params={"timeout": "0"})
    account_data = body["rooms"]["join"][room_id]["account_data"]["events"]
    assert {
        "type": "m.tag",
        "content": {"tags": {"m.favourite": {"order": 0.25}, "u.work": {}}},
    } in (account_data)
    status, body = await server.request("DELETE", f"{base}/u.work", token)
    assert (status, body) == (200, {})
    status, body = await server.request("GET", base, token)
    assert body == {"tags": {"m.favourite": {"order": 0.25}}}
    status, body = await server.request("GET", base, bob_token)
    assert status == 403 and body["errcode"] == "M_FORBIDDEN"


async def test_delete_profile_field(server: ServerHandle) -> None:
    # DELETE /profile/{userId}/{keyName} (v1.16+; the fuzz run found it answered 405).
    alice, token, _ = await server.register("alice")
    _, bob_token, _ = await server.register("bob")
    field = f"{V3}/profile/{quote(alice, safe='')}/avatar_url"
    status, body = await server.request("PUT", field, token, json={"avatar_url": "mxc://a/b"})
    assert status == 200, body
    status, body = await server.request("DELETE", field, bob_token)
    assert status == 403 and body["errcode"] == "M_FORBIDDEN"
    status, body = await server.request("DELETE", field, token)
    assert (status, body) == (200, {})
    status, body = await server.request("GET", f"{V3}/profile/{quote(alice, safe='')}")
    assert status == 200 and "avatar_url" not in body, body
    status, body = await server.request("DELETE", field, token)
    assert (status, body) == (200, {})
    status, body = await server.request("DELETE", f"{field[: -len('avatar_url')]}x.y", token)
    assert status == 400, body
