"""Rooms over the client-server API: creation in every room version, sending, state, membership
and the visibility of a room's content to non-members."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

ServerHandle = Any

V3 = "/_matrix/client/v3"


async def create_room(server: ServerHandle, token: str, **body: object) -> str:
    status, resp = await server.request("POST", f"{V3}/createRoom", token, json=body)
    assert status == 200, resp
    return str(resp["room_id"])


@pytest.mark.parametrize("version", [str(v) for v in range(1, 13)])
async def test_create_room_every_version(server: ServerHandle, version: str) -> None:
    alice, token, _ = await server.register("alice")
    room_id = await create_room(
        server, token, room_version=version, name="Room", topic="Topic", preset="public_chat"
    )
    if version == "12":
        assert ":" not in room_id
    status, state = await server.request("GET", f"{V3}/rooms/{room_id}/state", token)
    assert status == 200, state
    by_type = {(e["type"], e["state_key"]): e for e in state}
    assert by_type[("m.room.create", "")]["content"]["room_version"] == version
    assert by_type[("m.room.member", alice)]["content"]["membership"] == "join"
    assert by_type[("m.room.join_rules", "")]["content"]["join_rule"] == "public"
    assert by_type[("m.room.name", "")]["content"]["name"] == "Room"
    status, body = await server.request(
        "PUT", f"{V3}/rooms/{room_id}/send/m.room.message/t1", token,
        json={"msgtype": "m.text", "body": "hello"},
    )  # fmt: skip
    assert status == 200, body
    status, event = await server.request(
        "GET", f"{V3}/rooms/{quote(room_id)}/event/{quote(body['event_id'], safe='')}", token
    )
    assert status == 200 and event["content"]["body"] == "hello"


async def test_unknown_room_version(server: ServerHandle) -> None:
    _, token, _ = await server.register("alice")
    status, body = await server.request(
        "POST", f"{V3}/createRoom", token, json={"room_version": "99"}
    )
    assert (status, body["errcode"]) == (400, "M_UNSUPPORTED_ROOM_VERSION")


async def test_send_is_idempotent_per_txn(server: ServerHandle) -> None:
    _, token, _ = await server.register("alice")
    room_id = await create_room(server, token)
    path = f"{V3}/rooms/{room_id}/send/m.room.message/same"
    _, first = await server.request("PUT", path, token, json={"body": "a", "msgtype": "m.text"})
    _, second = await server.request("PUT", path, token, json={"body": "a", "msgtype": "m.text"})
    assert first["event_id"] == second["event_id"]


async def test_membership_lifecycle_and_refusals(server: ServerHandle) -> None:
    alice, a_token, _ = await server.register("alice")
    bob, b_token, _ = await server.register("bob")
    room_id = await create_room(server, a_token, preset="private_chat")
    # Bob cannot join an invite-only room uninvited, and nothing is written.
    status, body = await server.request("POST", f"{V3}/join/{room_id}", b_token, json={})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    # Nor read it.
    status, body = await server.request("GET", f"{V3}/rooms/{room_id}/state", b_token)
    assert status == 403
    assert (await server.request("POST", f"{V3}/rooms/{room_id}/invite", a_token,
                                 json={"user_id": bob}))[0] == 200  # fmt: skip
    status, body = await server.request("POST", f"{V3}/rooms/{room_id}/join", b_token)
    assert status == 200, body
    status, body = await server.request("GET", f"{V3}/joined_rooms", b_token)
    assert body["joined_rooms"] == [room_id]
    status, body = await server.request(
        "GET", f"{V3}/rooms/{room_id}/members", a_token, params={"membership": "join"}
    )
    assert sorted(e["state_key"] for e in body["chunk"]) == sorted([alice, bob])
    # Bob (power 0) cannot kick Alice.
    status, body = await server.request(
        "POST", f"{V3}/rooms/{room_id}/kick", b_token, json={"user_id": alice}
    )
    assert status == 403
    status, _ = await server.request(
        "POST", f"{V3}/rooms/{room_id}/ban", a_token, json={"user_id": bob, "reason": "spam"}
    )
    assert status == 200
    status, body = await server.request(
        "GET", f"{V3}/rooms/{room_id}/state/m.room.member/{bob}", a_token
    )
    assert body == {"membership": "ban", "reason": "spam"} or body["membership"] == "ban"
    status, _ = await server.request(
        "POST", f"{V3}/rooms/{room_id}/unban", a_token, json={"user_id": bob}
    )
    assert status == 200
    status, _ = await server.request(
        "POST", f"{V3}/rooms/{room_id}/unban", a_token, json={"user_id": bob}
    )
    assert status == 403  # not banned any more


async def test_concurrent_room_creation_and_sends(server: ServerHandle) -> None:
    """Rooms created and written concurrently never collide on storage (state groups, stream
    positions): every request succeeds and every room has its own state."""
    import asyncio

    users = [await server.register(f"u{i}") for i in range(4)]
    results = await asyncio.gather(
        *[
            server.request("POST", f"{V3}/createRoom", token, json={"name": f"r{n}"})
            for n in range(12)
            for _, token, _ in [users[n % 4]]
        ]
    )
    assert all(status == 200 for status, _ in results), results
    room_ids = [body["room_id"] for _, body in results]
    assert len(set(room_ids)) == 12
    sends = await asyncio.gather(
        *[
            server.request(
                "PUT",
                f"{V3}/rooms/{quote(room_id)}/send/m.room.message/c{n}",
                users[n % 4][1],
                json={"msgtype": "m.text", "body": str(n)},
            )
            for n, room_id in enumerate(room_ids)
        ]
    )
    assert all(status == 200 for status, _ in sends), sends
    for n, room_id in enumerate(room_ids):
        status, body = await server.request(
            "GET", f"{V3}/rooms/{quote(room_id)}/state/m.room.name", users[n % 4][1]
        )
        assert (status, body) == (200, {"name": f"r{n}"})


async def test_identical_creations_in_one_millisecond_make_distinct_v12_rooms(
    server: ServerHandle,
) -> None:
    """Room version 12 room IDs are the create event's hash: the same user creating rooms with
    identical creation content within one millisecond must still get distinct rooms."""
    from transom.services.clock import ManualClock
    from transom.services.rooms.creation import parse_create_room

    alice, _, _ = await server.register("alice")
    rooms = server.hs.rooms
    rooms.creator.clock = ManualClock(1_800_000_000.0)  # time stands still
    request = parse_create_room({"room_version": "12"}, "12")
    first, _ = await rooms.room_creator.create_room(alice, request)
    second, _ = await rooms.room_creator.create_room(alice, request)
    assert first != second
