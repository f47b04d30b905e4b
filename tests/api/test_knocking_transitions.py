"""Knock transitions through the HTTP API, as a table: into ``knock`` from every membership, and
out of ``knock`` by invite (accept), kick or ban (reject) and leave (rescind); knocking again after
a rejection, a rescind, or a ban and unban; deactivation rescinding pending knocks."""

from __future__ import annotations

from typing import Any

import pytest
from test_knocking import V3, create_room, knock, member_event, membership, post

ServerHandle = Any


async def _bring_to(
    server: ServerHandle, room_id: str, a_tok: str, bob: str, b_tok: str, start: str
) -> None:
    """Put bob in membership ``start`` (``none`` = never in the room)."""
    if start in ("leave", "knock"):
        assert (await knock(server, b_tok, room_id, "first"))[0] == 200
    if start == "leave":
        assert (await post(server, b_tok, room_id, "leave"))[0] == 200
    if start in ("invite", "join"):
        assert (await post(server, a_tok, room_id, "invite", user_id=bob))[0] == 200
    if start == "join":
        assert (await post(server, b_tok, room_id, "join"))[0] == 200
    if start == "ban":
        assert (await post(server, a_tok, room_id, "ban", user_id=bob))[0] == 200
    assert await membership(server, a_tok, room_id, bob) == (None if start == "none" else start)


@pytest.mark.parametrize(
    ("start", "allowed"),
    [("none", True), ("leave", True), ("knock", True), ("invite", False), ("join", False),
     ("ban", False)],
)  # fmt: skip
async def test_into_knock(server: ServerHandle, start: str, allowed: bool) -> None:
    _, a_tok, _ = await server.register("alice")
    bob, b_tok, _ = await server.register("bob")
    for version in ("7", "10", "12"):
        room_id = await create_room(server, a_tok, version)
        await _bring_to(server, room_id, a_tok, bob, b_tok, start)
        status, body = await knock(server, b_tok, room_id, "again")
        if allowed:
            assert status == 200, body
            assert await membership(server, a_tok, room_id, bob) == "knock"
        else:
            assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
            assert await membership(server, a_tok, room_id, bob) == start


@pytest.mark.parametrize(
    ("action", "actor", "result", "knock_again"),
    [
        ("invite", "mod", "invite", False),  # accept
        ("kick", "mod", "leave", True),  # reject
        ("ban", "mod", "ban", False),  # reject for good
        ("leave", "knocker", "leave", True),  # rescind
        ("kick", "other", "knock", True),  # a member without kick power cannot reject
        ("invite", "knocker", "knock", True),  # nor can the knocker invite themselves
    ],
)
async def test_out_of_knock(
    server: ServerHandle, action: str, actor: str, result: str, knock_again: bool
) -> None:
    _, a_tok, _ = await server.register("alice")
    bob, b_tok, _ = await server.register("bob")
    carol, c_tok, _ = await server.register("carol")
    for version in ("7", "10", "12"):
        room_id = await create_room(server, a_tok, version)
        assert (await post(server, a_tok, room_id, "invite", user_id=carol))[0] == 200
        assert (await post(server, c_tok, room_id, "join"))[0] == 200
        # carol is joined at level 0, below the default kick level of 50.
        assert (await knock(server, b_tok, room_id, "please"))[0] == 200
        token = {"mod": a_tok, "knocker": b_tok, "other": c_tok}[actor]
        body = {} if action == "leave" else {"user_id": bob, "reason": "decided"}
        status, resp = await post(server, token, room_id, action, **body)
        assert (status == 200) == (result != "knock"), resp
        if status != 200:
            assert resp["errcode"] == "M_FORBIDDEN"
        assert await membership(server, a_tok, room_id, bob) == result
        if status == 200 and action != "leave":
            event = await member_event(server, a_tok, room_id, bob)
            assert event is not None and event["content"].get("reason") == "decided"
        status, _ = await knock(server, b_tok, room_id, "once more")
        assert (status == 200) == knock_again


@pytest.mark.parametrize("version", ["7", "12"])
async def test_knock_after_unban(server: ServerHandle, version: str) -> None:
    _, a_tok, _ = await server.register("alice")
    bob, b_tok, _ = await server.register("bob")
    room_id = await create_room(server, a_tok, version)
    assert (await knock(server, b_tok, room_id, "hi"))[0] == 200
    assert (await post(server, a_tok, room_id, "ban", user_id=bob))[0] == 200
    assert (await knock(server, b_tok, room_id, "sorry"))[0] == 403
    assert (await post(server, a_tok, room_id, "unban", user_id=bob))[0] == 200
    assert (await knock(server, b_tok, room_id, "sorry"))[0] == 200
    assert await membership(server, a_tok, room_id, bob) == "knock"


async def test_deactivation_rescinds_knocks(server: ServerHandle) -> None:
    _, a_tok, _ = await server.register("alice")
    bob, b_tok, _ = await server.register("bob")
    knocked = [await create_room(server, a_tok, v) for v in ("7", "10", "12")]
    joined = await create_room(server, a_tok, "10", "public")
    for room_id in knocked:
        assert (await knock(server, b_tok, room_id, "hi"))[0] == 200
    assert (await post(server, b_tok, joined, "join"))[0] == 200
    auth = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "bob"},
            "password": "pw"}  # fmt: skip
    status, body = await server.request(
        "POST", f"{V3}/account/deactivate", b_tok, json={"auth": auth}
    )
    assert status == 200, body
    for room_id in knocked:
        event = await member_event(server, a_tok, room_id, bob)
        assert event is not None and event["content"]["membership"] == "leave"
        assert event["sender"] == bob
    # Only knocks are rescinded here.
    assert await membership(server, a_tok, joined, bob) == "join"
