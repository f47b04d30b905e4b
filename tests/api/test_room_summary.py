"""Room previews ("Room summaries": ``GET /v1/room_summary/{roomIdOrAlias}`` and MSC3266's unstable
paths) and discovering knock rooms through the public room directory."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from test_knocking import V3, create_room, knock, post, q

ServerHandle = Any

V1 = "/_matrix/client/v1"
PATHS = [
    V1 + "/room_summary/{room}",
    "/_matrix/client/unstable/im.nheko.summary/rooms/{room}/summary",
    "/_matrix/client/unstable/im.nheko.summary/summary/{room}",
]


async def summary(
    server: ServerHandle, room: str, token: str | None = None, path: str = PATHS[0]
) -> tuple[int, Any]:
    return await server.request("GET", path.format(room=q(room)), token)


@pytest.mark.parametrize("version", ["7", "10", "12"])
async def test_knock_room_preview(server: ServerHandle, version: str) -> None:
    alice, a_tok, _ = await server.register("alice")
    bob, b_tok, _ = await server.register("bob")
    room_id = await create_room(
        server, a_tok, version, name="Door", topic="Knock first", room_alias_name="door"
    )
    alias = f"#door:{server.server_name}"
    for token, room, path in itertools.product((None, b_tok), (room_id, alias), PATHS):
        status, body = await summary(server, room, token, path)
        assert status == 200, body
        assert body["room_id"] == room_id
        assert body["join_rule"] == "knock"
        assert body["num_joined_members"] == 1
        assert body["name"] == "Door" and body["topic"] == "Knock first"
        assert body["canonical_alias"] == alias
        assert body["room_version"] == version
        assert body["world_readable"] is False
        assert body["guest_can_join"] is True  # private_chat preset: guest_access can_join
        assert "encryption" not in body and "room_type" not in body
        if token is None:
            assert "membership" not in body
        else:
            assert body["membership"] == "leave"
    assert (await knock(server, b_tok, room_id, "hi"))[0] == 200
    for path in PATHS:
        status, body = await summary(server, room_id, b_tok, path)
        assert (status, body["membership"]) == (200, "knock")
        status, body = await summary(server, room_id, a_tok, path)
        assert (status, body["membership"]) == (200, "join")
    assert alice != bob


async def test_private_room_is_not_previewable(server: ServerHandle) -> None:
    _, a_tok, _ = await server.register("alice")
    bob, b_tok, _ = await server.register("bob")
    _, c_tok, _ = await server.register("carol")
    room_id = await create_room(server, a_tok, "10", "invite", name="Hidden")
    for token in (None, c_tok):
        status, body = await summary(server, room_id, token)
        assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
        assert "Hidden" not in str(body)
    # Exactly the answer an unknown room gets.
    assert await summary(server, "!unknown:test.local", c_tok) == (status, body)
    assert (await summary(server, "#unknown:test.local"))[0] == 404
    # Members and invitees may preview it.
    assert (await post(server, a_tok, room_id, "invite", user_id=bob))[0] == 200
    status, body = await summary(server, room_id, b_tok)
    assert (status, body["membership"], body["name"]) == (200, "invite", "Hidden")
    status, body = await summary(server, room_id, a_tok)
    assert (status, body["membership"]) == (200, "join")


async def test_restricted_room_preview(server: ServerHandle) -> None:
    _, a_tok, _ = await server.register("alice")
    _, b_tok, _ = await server.register("bob")
    space = await create_room(server, a_tok, "10", "public")
    room_id = await create_room(server, a_tok, "10", "knock_restricted", allow=[space])
    restricted = await create_room(server, a_tok, "10", "restricted", allow=[space])
    status, body = await summary(server, room_id)
    assert status == 200, body
    assert (body["join_rule"], body["allowed_room_ids"]) == ("knock_restricted", [space])
    # restricted: only to those who meet a condition.
    assert (await summary(server, restricted, b_tok))[0] == 404
    assert (await post(server, b_tok, space, "join"))[0] == 200
    status, body = await summary(server, restricted, b_tok)
    assert (status, body["allowed_room_ids"]) == (200, [space])


async def test_world_readable_and_fields(server: ServerHandle) -> None:
    _, a_tok, _ = await server.register("alice")
    room_id = await create_room(
        server, a_tok, "12", "invite",
        creation_content={"type": "m.space"},
        initial_state=[
            {"type": "m.room.history_visibility", "state_key": "",
             "content": {"history_visibility": "world_readable"}},
            {"type": "m.room.encryption", "state_key": "",
             "content": {"algorithm": "m.megolm.v1.aes-sha2"}},
            {"type": "m.room.avatar", "state_key": "", "content": {"url": "mxc://a/b"}},
        ],
    )  # fmt: skip
    status, body = await summary(server, room_id)
    assert status == 200, body
    assert body["world_readable"] is True
    assert body["room_type"] == "m.space"
    assert body["encryption"] == "m.megolm.v1.aes-sha2"
    assert body["avatar_url"] == "mxc://a/b"
    assert body["join_rule"] == "invite"


async def test_invalid_token_is_refused(server: ServerHandle) -> None:
    _, a_tok, _ = await server.register("alice")
    room_id = await create_room(server, a_tok, "10")
    status, body = await summary(server, room_id, "not-a-token")
    assert (status, body["errcode"]) == (401, "M_UNKNOWN_TOKEN")


async def test_knock_room_in_public_directory(server: ServerHandle) -> None:
    _, a_tok, _ = await server.register("alice")
    room_id = await create_room(server, a_tok, "10", visibility="public", name="Door")
    status, body = await server.request("GET", f"{V3}/publicRooms")
    assert status == 200, body
    chunk = {r["room_id"]: r for r in body["chunk"]}
    assert chunk[room_id]["join_rule"] == "knock"
    assert chunk[room_id]["name"] == "Door"


async def test_remote_summary_hook(server: ServerHandle) -> None:
    """A room this server is not in, with `via`, is asked of the federation hook."""
    calls: list[tuple[Any, str, list[str]]] = []

    async def remote_summary(user: Any, room: str, servers: Any) -> dict[str, Any]:
        calls.append((user, room, list(servers)))
        return {"room_id": "!far:elsewhere.example", "join_rule": "knock"}

    server.hs.room_summary.remote_summary = remote_summary
    path = f"{V1}/room_summary/{q('#far:elsewhere.example')}"
    status, body = await server.request("GET", path, params={"via": "elsewhere.example"})
    assert (status, body["room_id"]) == (200, "!far:elsewhere.example")
    assert calls == [(None, "#far:elsewhere.example", ["elsewhere.example"])]
    status, body = await summary(server, "#far:elsewhere.example")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
