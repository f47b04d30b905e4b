"""Knocks that must be refused, each with its errcode and with nothing persisted (the room's
state is unchanged), and the dedicated ``rc_knocks`` rate limits."""

from __future__ import annotations

from typing import Any

import pytest
from test_knocking import (
    KNOCK_VERSIONS,
    V3,
    create_room,
    knock,
    membership,
    post,
    q,
    state_snapshot,
)

ServerHandle = Any


@pytest.mark.parametrize("version", KNOCK_VERSIONS)
async def test_join_rule_without_knocking(server: ServerHandle, version: str) -> None:
    """Only knock (v7+) and knock_restricted (v10+) admit knocks; the early draft's knocking on
    invite rooms and its `private` join rule are not followed."""
    _, a_tok, _ = await server.register("alice")
    _, b_tok, _ = await server.register("bob")
    for join_rule in ("invite", "public", "restricted", "private", "custom.rule"):
        room_id = await create_room(server, a_tok, version, join_rule)
        before = await state_snapshot(server, a_tok, room_id)
        status, body = await knock(server, b_tok, room_id, "hi")
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN"), join_rule
        assert "join rule" in body["error"]
        assert await state_snapshot(server, a_tok, room_id) == before


async def test_knock_restricted_needs_v10(server: ServerHandle) -> None:
    _, a_tok, _ = await server.register("alice")
    _, b_tok, _ = await server.register("bob")
    for version in ("7", "8", "9"):
        room_id = await create_room(server, a_tok, version, "knock_restricted")
        before = await state_snapshot(server, a_tok, room_id)
        status, body = await knock(server, b_tok, room_id)
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN"), version
        assert await state_snapshot(server, a_tok, room_id) == before


async def test_room_version_without_knocking(server: ServerHandle) -> None:
    """A knock join rule in versions 1-6 is refused with a clear 403, never a 500."""
    _, a_tok, _ = await server.register("alice")
    _, b_tok, _ = await server.register("bob")
    for version in ("1", "2", "3", "4", "5", "6"):
        room_id = await create_room(server, a_tok, version, "knock")
        before = await state_snapshot(server, a_tok, room_id)
        status, body = await knock(server, b_tok, room_id, "hi")
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
        assert f"Room version {version} does not support knocking" in body["error"]
        assert await state_snapshot(server, a_tok, room_id) == before


@pytest.mark.parametrize("version", KNOCK_VERSIONS)
async def test_banned_joined_invited_cannot_knock(server: ServerHandle, version: str) -> None:
    _, a_tok, _ = await server.register("alice")
    bob, b_tok, _ = await server.register("bob")
    carol, c_tok, _ = await server.register("carol")
    dave, d_tok, _ = await server.register("dave")
    room_id = await create_room(server, a_tok, version)
    assert (await post(server, a_tok, room_id, "ban", user_id=bob))[0] == 200
    assert (await post(server, a_tok, room_id, "invite", user_id=carol))[0] == 200
    assert (await post(server, a_tok, room_id, "invite", user_id=dave))[0] == 200
    assert (await post(server, d_tok, room_id, "join"))[0] == 200
    before = await state_snapshot(server, a_tok, room_id)
    for token, words in ((b_tok, "banned"), (c_tok, "invited"), (d_tok, "already in"),
                         (a_tok, "already in")):  # fmt: skip
        status, body = await knock(server, token, room_id, "hi")
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
        assert words in body["error"]
    assert await state_snapshot(server, a_tok, room_id) == before


async def test_unknown_room_or_alias(server: ServerHandle) -> None:
    _, b_tok, _ = await server.register("bob")
    for room in ("!nowhere:test.local", "#nowhere:test.local", "!nowhere:elsewhere.example"):
        status, body = await knock(server, b_tok, room, "hi")
        assert (status, body["errcode"]) == (404, "M_NOT_FOUND"), room
        # With servers to try but no federation knock available yet: still 404.
        status, body = await knock(server, b_tok, room, params={"via": "elsewhere.example"})
        assert (status, body["errcode"]) == (404, "M_NOT_FOUND"), room


async def test_remote_knock_hook(server: ServerHandle) -> None:
    """A room this server is not in, with `via`/`server_name`, goes to the federation hook."""
    bob, b_tok, _ = await server.register("bob")
    calls: list[tuple[str, str, list[str], str | None]] = []

    async def remote_knock(user: str, room: str, servers: Any, reason: str | None) -> str:
        calls.append((user, room, list(servers), reason))
        return "!remote:elsewhere.example"

    server.hs.knocking.remote_knock = remote_knock
    params = [("server_name", "a.example"), ("via", "b.example"), ("via", "a.example")]
    status, body = await knock(server, b_tok, "#room:elsewhere.example", "hi", params=params)
    assert (status, body) == (200, {"room_id": "!remote:elsewhere.example"})
    assert calls == [(bob, "#room:elsewhere.example", ["b.example", "a.example"], "hi")]
    # Without servers (a v12 room ID names none) there is nobody to ask.
    status, body = await knock(server, b_tok, "!otherRoomIdWithoutServer")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


async def test_bad_body(server: ServerHandle) -> None:
    _, a_tok, _ = await server.register("alice")
    bob, b_tok, _ = await server.register("bob")
    room_id = await create_room(server, a_tok, "10")
    before = await state_snapshot(server, a_tok, room_id)
    url = f"{V3}/knock/{q(room_id)}"
    status, body = await server.request("POST", url, b_tok, json={"reason": 42})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = await server.request("POST", url, b_tok, json=["reason"])
    assert (status, body["errcode"]) == (400, "M_NOT_JSON")
    status, body = await server.request("POST", url, b_tok, data="{not json")
    assert (status, body["errcode"]) == (400, "M_NOT_JSON")
    status, body = await server.request("POST", url, None, json={})
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")
    assert await state_snapshot(server, a_tok, room_id) == before
    assert await membership(server, a_tok, room_id, bob) is None


async def test_rate_limit_per_user(make_server: Any) -> None:
    server = await make_server(
        rc_knocks={
            "per_user": {"per_second": 0.001, "burst_count": 2},
            "per_room": {"per_second": 1000, "burst_count": 1000},
            "per_server": {"per_second": 1000, "burst_count": 1000},
        }
    )
    _, a_tok, _ = await server.register("alice")
    _, b_tok, _ = await server.register("bob")
    rooms = [await create_room(server, a_tok, "12") for _ in range(3)]
    # Refusals and identical repeats cost nothing.
    invite_room = await create_room(server, a_tok, "12", "invite")
    for _ in range(3):
        assert (await knock(server, b_tok, invite_room))[0] == 403
    assert (await knock(server, b_tok, rooms[0], "a"))[0] == 200
    assert (await knock(server, b_tok, rooms[0], "a"))[0] == 200
    assert (await knock(server, b_tok, rooms[1], "b"))[0] == 200
    before = await state_snapshot(server, a_tok, rooms[2])
    status, body = await knock(server, b_tok, rooms[2], "c")
    assert (status, body["errcode"]) == (429, "M_LIMIT_EXCEEDED")
    assert isinstance(body["retry_after_ms"], int) and body["retry_after_ms"] > 0
    assert await state_snapshot(server, a_tok, rooms[2]) == before
    # Another user is not affected.
    _, c_tok, _ = await server.register("carol")
    assert (await knock(server, c_tok, rooms[2], "c"))[0] == 200


async def test_rate_limit_per_room(make_server: Any) -> None:
    server = await make_server(
        rc_knocks={
            "per_user": {"per_second": 1000, "burst_count": 1000},
            "per_room": {"per_second": 0.001, "burst_count": 2},
            "per_server": {"per_second": 1000, "burst_count": 1000},
        }
    )
    _, a_tok, _ = await server.register("alice")
    room_id = await create_room(server, a_tok, "10")
    other_room = await create_room(server, a_tok, "10")
    tokens = [(await server.register(name))[1] for name in ("bob", "carol", "dave")]
    assert (await knock(server, tokens[0], room_id))[0] == 200
    assert (await knock(server, tokens[1], room_id))[0] == 200
    before = await state_snapshot(server, a_tok, room_id)
    status, body = await knock(server, tokens[2], room_id)
    assert (status, body["errcode"]) == (429, "M_LIMIT_EXCEEDED")
    assert body["retry_after_ms"] > 0
    assert await state_snapshot(server, a_tok, room_id) == before
    assert (await knock(server, tokens[2], other_room))[0] == 200
