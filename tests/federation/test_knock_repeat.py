"""Repeated knocks on a room held by another server are idempotent, as local ones are.

Client-server API "Knocking on rooms"; server-server API "Knocking upon a room"
(``make_knock``/``send_knock``); the auth rules let a knock follow a pending knock (rule 5.7.3
in v12 numbering, 4.7.3 in v7; room versions 7+), so repeats are the server's choice. Beyond
the spec: a knock repeating the user's pending one (same reason and profile) answers the room ID
with no new event once the room's make_knock template still cites that knock among its auth
events; a changed reason or profile is a new knock, and so is a repeat after the room's server
replaced the knock without telling us (a kick or ban from a server that sends no rejections).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import FedServer, MakeFedServer
from .fake_remote import FakeRemoteServer
from .test_knock_remote_room import build_room, serve_room
from .test_knock_two_servers import V3, knock, knock_rules
from .test_two_servers import create_room, q


@pytest.fixture
async def remote(tmp_path: Path) -> AsyncIterator[FakeRemoteServer]:
    fake = await FakeRemoteServer().start(tmp_path / "fake")
    yield fake
    await fake.stop()


def round_trips(remote: FakeRemoteServer) -> tuple[int, int]:
    return len(remote.requests_to("/make_knock/")), len(remote.requests_to("/send_knock/"))


def cite_pending_knocks(remote: FakeRemoteServer) -> dict[str, str]:
    """Make the fake room's make_knock cite the user's last knock among the template's auth
    events, as a room's server does while it is the user's current member event ("Auth events
    selection"). Returns user -> that knock's event ID (drop an entry to forget it)."""
    current: dict[str, str] = {}
    make = next(h for m, p, h in remote._handlers if p.endswith("/make_knock/"))
    send = next(h for m, p, h in remote._handlers if p.endswith("/send_knock/"))

    async def make_knock(request: Any) -> tuple[int, Any]:
        status, answer = await make(request)
        user = request.path.rsplit("/", 1)[1]
        if user in current:
            answer["event"]["auth_events"] = [*answer["event"]["auth_events"], current[user]]
        return status, answer

    async def send_knock(request: Any) -> tuple[int, Any]:
        current[request.body["sender"]] = request.path.rsplit("/", 1)[1]
        return await send(request)

    remote.on("GET", "/make_knock/", make_knock)
    remote.on("PUT", "/send_knock/", send_knock)
    return current


async def pending_knock(server: FedServer, user: str, room_id: str) -> tuple[str, Any]:
    """The event ID and content of the user's pending knock as the knocker's server has it."""
    local = await server.hs.rooms.state.get_local_membership(user, room_id)
    assert local is not None and local.membership == "knock"
    event = await server.hs.rooms.events.get_event(local.event_id)
    assert event is not None
    return local.event_id, dict(event.content)


async def test_a_repeat_makes_no_new_knock_a_new_reason_does(
    make_fed_server: MakeFedServer, remote: FakeRemoteServer
) -> None:
    server = await make_fed_server()
    bob, token, _ = await server.register("bob")
    room = build_room(remote)
    serve_room(room, [])
    cite_pending_knocks(remote)
    via = [remote.server_name]

    status, answer = await knock(server, token, room.room_id, via, "hello")
    assert (status, answer) == (200, {"room_id": room.room_id})
    assert round_trips(remote) == (1, 1)
    first, content = await pending_knock(server, bob, room.room_id)
    assert content["reason"] == "hello"

    # The same knock again, also several at once and without `via`: a template is asked for,
    # it still cites the pending knock, so no send_knock and no new event.
    for status, answer in await asyncio.gather(
        knock(server, token, room.room_id, via, "hello"),
        knock(server, token, room.room_id, via, "hello"),
        knock(server, token, room.room_id, [], "hello"),
    ):
        assert (status, answer) == (200, {"room_id": room.room_id})
    assert round_trips(remote) == (4, 1)
    assert (await pending_knock(server, bob, room.room_id))[0] == first

    # A different reason (or none) is a new knock, through the room's server.
    status, _ = await knock(server, token, room.room_id, via, "it is me")
    assert status == 200
    assert round_trips(remote) == (5, 2)
    second, content = await pending_knock(server, bob, room.room_id)
    assert second != first and content["reason"] == "it is me"
    status, _ = await knock(server, token, room.room_id, via)
    assert status == 200 and round_trips(remote) == (6, 3)
    third, content = await pending_knock(server, bob, room.room_id)
    assert third != second and "reason" not in content
    status, _ = await knock(server, token, room.room_id, via)
    assert status == 200 and round_trips(remote) == (7, 3)

    # A changed profile is a new knock too: the pending one shows the old name.
    status, _ = await server.request(
        "PUT", f"{V3}/profile/{q(bob)}/displayname", token, json={"displayname": "Robert"}
    )
    assert status == 200
    status, _ = await knock(server, token, room.room_id, via)
    assert status == 200 and round_trips(remote) == (8, 4)
    _, content = await pending_knock(server, bob, room.room_id)
    assert content["displayname"] == "Robert"


async def test_a_repeat_after_an_unannounced_rejection_is_not_swallowed(
    make_fed_server: MakeFedServer, remote: FakeRemoteServer
) -> None:
    """The room's server kicked (or banned) the knocker and did not tell us: the repeat must
    reach it, as a new knock or as its refusal."""
    server = await make_fed_server()
    bob, token, _ = await server.register("bob")
    room = build_room(remote)
    serve_room(room, [])
    current = cite_pending_knocks(remote)
    via = [remote.server_name]

    status, _ = await knock(server, token, room.room_id, via, "hello")
    assert status == 200 and round_trips(remote) == (1, 1)
    first, _ = await pending_knock(server, bob, room.room_id)

    del current[bob]  # kicked there: the template no longer cites the knock
    status, answer = await knock(server, token, room.room_id, via, "hello")
    assert (status, answer) == (200, {"room_id": room.room_id})
    assert round_trips(remote) == (2, 2)
    assert (await pending_knock(server, bob, room.room_id))[0] != first

    async def banned(request: Any) -> tuple[int, Any]:
        return 403, {"errcode": "M_FORBIDDEN", "error": "You are banned from this room"}

    remote.on("GET", "/make_knock/", banned)
    status, answer = await knock(server, token, room.room_id, via, "hello")
    assert status == 403 and answer["errcode"] == "M_FORBIDDEN", answer
    assert round_trips(remote) == (3, 2)


async def test_the_room_sees_one_knock_per_distinct_request(
    two_servers: tuple[FedServer, FedServer],
) -> None:
    a, b = two_servers
    _, alice_token, _ = await a.register("alice")
    bob, bob_token, _ = await b.register("bob")
    room_id = await create_room(
        a, alice_token, preset="private_chat", room_version="12", initial_state=knock_rules()
    )

    async def knock_on_a() -> str:
        state = await a.hs.rooms.state.get_current_state_ids(room_id)
        return state[("m.room.member", bob)]

    status, _ = await knock(b, bob_token, room_id, [a.server_name], "let me in")
    assert status == 200
    first = await knock_on_a()
    position = a.hs.rooms.streams.current
    status, answer = await knock(b, bob_token, room_id, [a.server_name], "let me in")
    assert (status, answer) == (200, {"room_id": room_id})
    # Nothing reached A: no new knock event, nothing written to its stream.
    assert await knock_on_a() == first
    assert a.hs.rooms.streams.current == position
    status, _ = await knock(b, bob_token, room_id, [a.server_name], "please")
    assert status == 200
    second = await knock_on_a()
    assert second != first
    event = await a.hs.rooms.events.get_event(second)
    assert event is not None and event.content["reason"] == "please"
