"""Knocking over the client-server API ("Knocking on rooms"), black-box over a real socket in room
versions 7, 10 and 12: the endpoints and their aliases, the knock event, moderators' view,
accepting, idempotent repeats, and what a knocker can (not) read.

Helpers here are shared by the other ``test_knocking_*`` modules.
"""

from __future__ import annotations

from typing import Any

import pytest

from support.servers import q

ServerHandle = Any

V3 = "/_matrix/client/v3"
R0 = "/_matrix/client/r0"
KNOCK_VERSIONS = ["7", "10", "12"]


async def create_room(
    server: ServerHandle,
    token: str,
    version: str,
    join_rule: str = "knock",
    *,
    allow: list[str] | None = None,
    **body: Any,
) -> str:
    content: dict[str, Any] = {"join_rule": join_rule}
    if allow is not None:
        content["allow"] = [{"type": "m.room_membership", "room_id": r} for r in allow]
    request = {
        "room_version": version,
        "preset": "private_chat",
        "initial_state": [{"type": "m.room.join_rules", "state_key": "", "content": content}],
        **body,
    }
    status, resp = await server.request("POST", f"{V3}/createRoom", token, json=request)
    assert status == 200, resp
    return str(resp["room_id"])


async def knock(
    server: ServerHandle,
    token: str,
    room: str,
    reason: str | None = None,
    *,
    params: Any = None,
    prefix: str = V3,
) -> tuple[int, Any]:
    body = {} if reason is None else {"reason": reason}
    return await server.request(
        "POST", f"{prefix}/knock/{q(room)}", token, json=body, params=params
    )


async def state_snapshot(server: ServerHandle, token: str, room_id: str) -> dict[Any, str]:
    """(type, state_key) -> event ID of the room's current state, as a joined member sees it."""
    status, state = await server.request("GET", f"{V3}/rooms/{q(room_id)}/state", token)
    assert status == 200, state
    return {(e["type"], e["state_key"]): e["event_id"] for e in state}


async def member_event(
    server: ServerHandle, token: str, room_id: str, user_id: str
) -> dict[str, Any] | None:
    status, state = await server.request("GET", f"{V3}/rooms/{q(room_id)}/state", token)
    assert status == 200, state
    for event in state:
        if event["type"] == "m.room.member" and event["state_key"] == user_id:
            return dict(event)
    return None


async def membership(server: ServerHandle, token: str, room_id: str, user_id: str) -> str | None:
    event = await member_event(server, token, room_id, user_id)
    return None if event is None else str(event["content"]["membership"])


async def post(server: ServerHandle, token: str, room_id: str, action: str, **body: Any) -> Any:
    return await server.request("POST", f"{V3}/rooms/{q(room_id)}/{action}", token, json=body)


@pytest.mark.parametrize("version", KNOCK_VERSIONS)
async def test_knock_accept_join(server: ServerHandle, version: str) -> None:
    _, a_tok, _ = await server.register("alice")
    bob, b_tok, _ = await server.register("bob")
    status, _ = await server.request(
        "PUT", f"{V3}/profile/{q(bob)}/displayname", b_tok, json={"displayname": "Bobby"}
    )
    assert status == 200
    room_id = await create_room(server, a_tok, version)

    status, body = await knock(server, b_tok, room_id, "let me in")
    assert (status, body) == (200, {"room_id": room_id})

    event = await member_event(server, a_tok, room_id, bob)
    assert event is not None and event["sender"] == bob
    assert event["content"]["membership"] == "knock"
    assert event["content"]["reason"] == "let me in"
    # The knock carries the knocker's profile.
    assert event["content"]["displayname"] == "Bobby"

    # Moderators list pending knocks.
    status, members = await server.request(
        "GET", f"{V3}/rooms/{q(room_id)}/members", a_tok, params={"membership": "knock"}
    )
    assert status == 200, members
    assert [(m["state_key"], m["content"]["reason"]) for m in members["chunk"]] == [
        (bob, "let me in")
    ]
    # ... and see it in the timeline.
    status, page = await server.request(
        "GET", f"{V3}/rooms/{q(room_id)}/messages", a_tok, params={"dir": "b", "limit": "5"}
    )
    assert status == 200, page
    assert event["event_id"] in [e["event_id"] for e in page["chunk"]]

    # A /join without an invite is refused on a knock room.
    status, body = await post(server, b_tok, room_id, "join")
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")

    # Accept = invite; then the knocker joins.
    status, body = await post(server, a_tok, room_id, "invite", user_id=bob)
    assert status == 200, body
    assert await membership(server, a_tok, room_id, bob) == "invite"
    status, body = await server.request("POST", f"{V3}/join/{q(room_id)}", b_tok, json={})
    assert status == 200, body
    assert await membership(server, a_tok, room_id, bob) == "join"


async def test_knock_paths(server: ServerHandle) -> None:
    """The standard path, its r0 alias and the early draft's /rooms/{roomId}/knock."""
    _, a_tok, _ = await server.register("alice")
    bob, b_tok, _ = await server.register("bob")
    for path in (V3 + "/knock/{room}", R0 + "/knock/{room}", V3 + "/rooms/{room}/knock",
                 R0 + "/rooms/{room}/knock"):  # fmt: skip
        room_id = await create_room(server, a_tok, "10")
        url = path.format(room=q(room_id))
        status, body = await server.request("POST", url, b_tok, json={"reason": "hi"})
        assert (status, body) == (200, {"room_id": room_id}), path
        assert await membership(server, a_tok, room_id, bob) == "knock"


async def test_knock_by_alias_with_via_and_server_name(server: ServerHandle) -> None:
    _, a_tok, _ = await server.register("alice")
    bob, b_tok, _ = await server.register("bob")
    room_id = await create_room(server, a_tok, "12", room_alias_name="door")
    alias = f"#door:{server.server_name}"
    params = [("via", server.server_name), ("server_name", server.server_name), ("via", "x.org")]
    status, body = await knock(server, b_tok, alias, params=params)
    assert (status, body) == (200, {"room_id": room_id})
    assert await membership(server, a_tok, room_id, bob) == "knock"


async def test_knock_without_body(server: ServerHandle) -> None:
    """Some clients send no body at all; the reason is optional."""
    _, a_tok, _ = await server.register("alice")
    bob, b_tok, _ = await server.register("bob")
    room_id = await create_room(server, a_tok, "7")
    status, body = await server.request("POST", f"{V3}/knock/{q(room_id)}", b_tok)
    assert (status, body) == (200, {"room_id": room_id})
    event = await member_event(server, a_tok, room_id, bob)
    assert event is not None and "reason" not in event["content"]


@pytest.mark.parametrize("version", KNOCK_VERSIONS)
async def test_repeat_knock(server: ServerHandle, version: str) -> None:
    """An identical repeat makes no new event; a changed reason is a new knock."""
    _, a_tok, _ = await server.register("alice")
    bob, b_tok, _ = await server.register("bob")
    room_id = await create_room(server, a_tok, version)
    assert (await knock(server, b_tok, room_id, "please"))[0] == 200
    first = await member_event(server, a_tok, room_id, bob)
    assert first is not None
    before = await state_snapshot(server, a_tok, room_id)

    assert (await knock(server, b_tok, room_id, "please"))[0] == 200
    assert await state_snapshot(server, a_tok, room_id) == before

    assert (await knock(server, b_tok, room_id, "pretty please"))[0] == 200
    second = await member_event(server, a_tok, room_id, bob)
    assert second is not None and second["event_id"] != first["event_id"]
    assert second["content"]["reason"] == "pretty please"
    assert second["content"]["membership"] == "knock"


@pytest.mark.parametrize("version", KNOCK_VERSIONS)
async def test_knocker_learns_nothing(server: ServerHandle, version: str) -> None:
    _, a_tok, _ = await server.register("alice")
    _, b_tok, _ = await server.register("bob")
    room_id = await create_room(server, a_tok, version, name="Secret name")
    status, sent = await server.request(
        "PUT", f"{V3}/rooms/{q(room_id)}/send/m.room.message/t1", a_tok,
        json={"msgtype": "m.text", "body": "the secret plan"},
    )  # fmt: skip
    assert status == 200, sent
    assert (await knock(server, b_tok, room_id, "hello"))[0] == 200
    room = q(room_id)
    event_id = q(sent["event_id"])
    expectations = [
        (f"{V3}/rooms/{room}/messages", {"dir": "b"}, 403),
        (f"{V3}/rooms/{room}/state", None, 403),
        (f"{V3}/rooms/{room}/state/m.room.name", None, 403),
        (f"{V3}/rooms/{room}/members", None, 403),
        (f"{V3}/rooms/{room}/members", {"membership": "knock"}, 403),
        (f"{V3}/rooms/{room}/joined_members", None, 403),
        (f"{V3}/rooms/{room}/event/{event_id}", None, 404),
        (f"{V3}/rooms/{room}/context/{event_id}", None, 404),
    ]
    for path, params, expected in expectations:
        status, body = await server.request("GET", path, b_tok, params=params)
        assert status == expected, (path, status, body)
        assert body["errcode"] == ("M_FORBIDDEN" if expected == 403 else "M_NOT_FOUND")
        text = str(body)
        assert "secret" not in text.lower(), (path, body)


async def test_concurrent_identical_knocks_make_one_event(server: ServerHandle) -> None:
    import asyncio

    _, a_tok, _ = await server.register("alice")
    bob, b_tok, _ = await server.register("bob")
    room_id = await create_room(server, a_tok, "12")
    before = await state_snapshot(server, a_tok, room_id)
    results = await asyncio.gather(*(knock(server, b_tok, room_id, "same") for _ in range(5)))
    assert [status for status, _ in results] == [200] * 5
    after = await state_snapshot(server, a_tok, room_id)
    assert set(after) - set(before) == {("m.room.member", bob)}
    status, page = await server.request(
        "GET", f"{V3}/rooms/{q(room_id)}/messages", a_tok, params={"dir": "b", "limit": "20"}
    )
    assert status == 200, page
    knocks = [e for e in page["chunk"] if e.get("state_key") == bob]
    assert len(knocks) == 1


async def test_knock_through_state_api(make_server: Any) -> None:
    """PUT /state/m.room.member/{self} with membership knock gets /knock's checks and limits."""
    server = await make_server(
        rc_knocks={
            "per_user": {"per_second": 0.001, "burst_count": 1},
            "per_room": {"per_second": 1000, "burst_count": 1000},
            "per_server": {"per_second": 1000, "burst_count": 1000},
        }
    )
    _, a_tok, _ = await server.register("alice")
    bob, b_tok, _ = await server.register("bob")
    rooms = [await create_room(server, a_tok, "10") for _ in range(2)]
    invite_room = await create_room(server, a_tok, "10", "invite")

    def put(room_id: str, content: dict[str, Any]) -> Any:
        path = f"{V3}/rooms/{q(room_id)}/state/m.room.member/{q(bob)}"
        return server.request("PUT", path, b_tok, json=content)

    status, body = await put(invite_room, {"membership": "knock"})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = await put(rooms[0], {"membership": "knock", "reason": 5})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = await put(rooms[0], {"membership": "knock", "reason": "via state"})
    assert status == 200, body
    event = await member_event(server, a_tok, rooms[0], bob)
    assert event is not None and event["event_id"] == body["event_id"]
    assert event["content"]["reason"] == "via state" and event["content"]["displayname"] == "bob"
    # An identical repeat answers with the pending knock.
    status, again = await put(rooms[0], {"membership": "knock", "reason": "via state"})
    assert (status, again) == (200, body)
    status, body = await put(rooms[1], {"membership": "knock"})
    assert (status, body["errcode"]) == (429, "M_LIMIT_EXCEEDED")


async def test_knocker_sync_shows_knock_then_invite(server: ServerHandle) -> None:
    _, a_tok, _ = await server.register("alice")
    bob, b_tok, _ = await server.register("bob")
    room_id = await create_room(server, a_tok, "12", name="Door")
    assert (await knock(server, b_tok, room_id, "hi"))[0] == 200
    status, sync = await server.request("GET", f"{V3}/sync", b_tok, params={"timeout": "0"})
    assert status == 200, sync
    events = sync["rooms"]["knock"][room_id]["knock_state"]["events"]
    by_type = {(e["type"], e["state_key"]): e for e in events}
    assert by_type[("m.room.join_rules", "")]["content"]["join_rule"] == "knock"
    assert by_type[("m.room.name", "")]["content"]["name"] == "Door"
    assert by_type[("m.room.member", bob)]["content"]["membership"] == "knock"
    assert room_id not in sync["rooms"].get("join", {})
    assert (await post(server, a_tok, room_id, "invite", user_id=bob))[0] == 200
    status, sync = await server.request(
        "GET", f"{V3}/sync", b_tok, params={"timeout": "0", "since": sync["next_batch"]}
    )
    assert status == 200, sync
    assert room_id in sync["rooms"]["invite"]
