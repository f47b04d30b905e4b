"""Room aliases, room directory visibility and /publicRooms over the client-server API."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

ServerHandle = Any

V3 = "/_matrix/client/v3"


async def create_room(server: ServerHandle, token: str, **body: object) -> str:
    status, resp = await server.request("POST", f"{V3}/createRoom", token, json=body)
    assert status == 200, resp
    return str(resp["room_id"])


def alias_path(alias: str) -> str:
    return f"{V3}/directory/room/{quote(alias, safe='')}"


async def test_alias_lifecycle_and_permissions(server: ServerHandle) -> None:
    alice, a_token, _ = await server.register("alice")
    bob, b_token, _ = await server.register("bob")
    carol, c_token, _ = await server.register("carol")
    room_id = await create_room(server, a_token, preset="public_chat")
    alias = "#hall:test.local"
    # Bob is not in the room: he cannot name it.
    status, body = await server.request(
        "PUT", alias_path(alias), b_token, json={"room_id": room_id}
    )
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    assert (await server.request("POST", f"{V3}/join/{room_id}", b_token, json={}))[0] == 200
    status, body = await server.request(
        "PUT", alias_path(alias), b_token, json={"room_id": room_id}
    )
    assert status == 200, body
    # Taken: 409.
    status, body = await server.request(
        "PUT", alias_path(alias), a_token, json={"room_id": room_id}
    )
    assert status == 409 and body["errcode"] == "M_UNKNOWN"
    # Bad aliases, foreign aliases, missing room_id, unknown room.
    for bad, payload, code in [
        ("nohash", {"room_id": room_id}, (400, "M_INVALID_PARAM")),
        ("#x:elsewhere.org", {"room_id": room_id}, (400, "M_INVALID_PARAM")),
        ("#x:test.local", {}, (400, "M_MISSING_PARAM")),
        ("#x:test.local", {"room_id": "!nope:test.local"}, (404, "M_NOT_FOUND")),
    ]:
        status, body = await server.request("PUT", alias_path(bad), a_token, json=payload)
        assert (status, body["errcode"]) == code, bad
    # Resolve without authentication.
    status, body = await server.request("GET", alias_path(alias))
    assert status == 200 and body["room_id"] == room_id and "test.local" in body["servers"]
    status, body = await server.request("GET", alias_path("#none:test.local"))
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    # The room's local aliases: members only (the room is not world_readable).
    status, body = await server.request("GET", f"{V3}/rooms/{room_id}/aliases", a_token)
    assert status == 200 and body["aliases"] == [alias]
    status, body = await server.request("GET", f"{V3}/rooms/{room_id}/aliases", c_token)
    assert status == 403
    # Joining the room using the alias works.
    status, body = await server.request("POST", f"{V3}/join/{quote(alias)}", c_token, json={})
    assert status == 200 and body["room_id"] == room_id
    # Carol (a plain member, not the creator) cannot delete it; Alice (room admin) can.
    status, body = await server.request("DELETE", alias_path(alias), c_token)
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = await server.request("DELETE", alias_path(alias), a_token)
    assert status == 200, body
    status, body = await server.request("DELETE", alias_path(alias), a_token)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    # The creator of an alias may delete it.
    second = "#second:test.local"
    await server.request("PUT", alias_path(second), c_token, json={"room_id": room_id})
    assert (await server.request("DELETE", alias_path(second), c_token))[0] == 200
    assert bob and alice and carol


async def test_directory_visibility(server: ServerHandle) -> None:
    _, a_token, _ = await server.register("alice")
    _, b_token, _ = await server.register("bob")
    room_id = await create_room(server, a_token, preset="public_chat")
    path = f"{V3}/directory/list/room/{room_id}"
    status, body = await server.request("GET", path)
    assert (status, body) == (200, {"visibility": "private"})
    status, body = await server.request("PUT", path, b_token, json={"visibility": "public"})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = await server.request("PUT", path, a_token, json={"visibility": "sideways"})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await server.request("PUT", path, a_token, json={"visibility": "public"})
    assert status == 200, body
    assert (await server.request("GET", path))[1] == {"visibility": "public"}
    status, body = await server.request("GET", f"{V3}/directory/list/room/!nope:test.local")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    # A server admin who is not in the room may unpublish it.
    _, admin_token, _ = await server.register("root", admin=True)
    status, body = await server.request("PUT", path, admin_token, json={"visibility": "private"})
    assert status == 200, body
    assert (await server.request("GET", path))[1] == {"visibility": "private"}


async def put_state(
    server: ServerHandle, token: str, room_id: str, etype: str, content: Any
) -> None:
    status, body = await server.request(
        "PUT", f"{V3}/rooms/{room_id}/state/{etype}", token, json=content
    )
    assert status == 200, body


async def test_public_rooms_chunks_search_and_paging(server: ServerHandle) -> None:
    _, a_token, _ = await server.register("alice")
    _, b_token, _ = await server.register("bob")
    knock = await create_room(
        server, a_token, visibility="public", room_version="7", preset="private_chat",
        name="Knock Knock", topic="who is there", room_alias_name="knock",
    )  # fmt: skip
    await put_state(server, a_token, knock, "m.room.join_rules", {"join_rule": "knock"})
    await put_state(
        server, a_token, knock, "m.room.canonical_alias", {"alias": "#knock:test.local"}
    )
    await put_state(
        server,
        a_token,
        knock,
        "m.room.history_visibility",
        {"history_visibility": "world_readable"},
    )
    await put_state(server, a_token, knock, "m.room.avatar", {"url": "mxc://test.local/abc"})
    krestricted = await create_room(
        server, a_token, visibility="public", room_version="10", name="KR"
    )
    await put_state(
        server, a_token, krestricted, "m.room.join_rules",
        {"join_rule": "knock_restricted", "allow": []},
    )  # fmt: skip
    busy = await create_room(
        server, a_token, visibility="public", preset="public_chat", name="Busy",
        creation_content={"type": "m.space"},
        initial_state=[{"type": "m.room.guest_access", "content": {"guest_access": "can_join"}}],
    )  # fmt: skip
    assert (await server.request("POST", f"{V3}/join/{busy}", b_token, json={}))[0] == 200
    await create_room(server, a_token, name="Hidden")  # private: never listed

    status, body = await server.request("GET", f"{V3}/publicRooms")
    assert status == 200, body
    assert body["total_room_count_estimate"] == 3
    chunks = {c["room_id"]: c for c in body["chunk"]}
    assert set(chunks) == {knock, krestricted, busy}
    assert body["chunk"][0]["room_id"] == busy  # most members first
    # The private_chat preset allows guests (createRoom presets: guest_access can_join).
    assert chunks[knock] == {
        "room_id": knock, "name": "Knock Knock", "topic": "who is there",
        "canonical_alias": "#knock:test.local", "avatar_url": "mxc://test.local/abc",
        "num_joined_members": 1, "world_readable": True, "guest_can_join": True,
        "join_rule": "knock",
    }  # fmt: skip
    assert chunks[krestricted]["join_rule"] == "knock_restricted"
    assert chunks[busy]["join_rule"] == "public"
    assert chunks[busy]["room_type"] == "m.space" and chunks[busy]["guest_can_join"] is True
    assert chunks[krestricted]["guest_can_join"] is False
    assert chunks[busy]["num_joined_members"] == 2

    # Paging with since tokens: no gaps, no duplicates.
    seen: list[str] = []
    params = {"limit": "2"}
    status, page = await server.request("GET", f"{V3}/publicRooms", params=params)
    seen += [c["room_id"] for c in page["chunk"]]
    assert "prev_batch" not in page
    status, page2 = await server.request(
        "GET", f"{V3}/publicRooms", params={"limit": "2", "since": page["next_batch"]}
    )
    seen += [c["room_id"] for c in page2["chunk"]]
    assert "next_batch" not in page2 and page2["prev_batch"]
    assert sorted(seen) == sorted([knock, krestricted, busy])

    # POST with a search term (case-insensitive on name, topic, alias).
    status, body = await server.request(
        "POST", f"{V3}/publicRooms", b_token, json={"filter": {"generic_search_term": "WHO IS"}}
    )
    assert status == 200 and [c["room_id"] for c in body["chunk"]] == [knock]
    status, body = await server.request(
        "POST", f"{V3}/publicRooms", b_token, json={"limit": 1, "filter": {}}
    )
    assert len(body["chunk"]) == 1 and body["next_batch"]
    # Errors: a bad since token, another server, a bad limit.
    status, body = await server.request("GET", f"{V3}/publicRooms", params={"since": "zzz"})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await server.request("GET", f"{V3}/publicRooms", params={"limit": "x"})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await server.request(
        "GET", f"{V3}/publicRooms", params={"server": "other.example"}
    )
    assert status == 404
    status, body = await server.request("GET", f"{V3}/publicRooms", params={"server": "test.local"})
    assert status == 200 and len(body["chunk"]) == 3
    status, body = await server.request(
        "POST", f"{V3}/publicRooms", b_token, json={"filter": {"generic_search_term": 5}}
    )
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
