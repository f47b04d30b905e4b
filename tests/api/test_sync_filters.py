"""Filters over the client-server API (upload, fetch, ownership) and their effect on /sync:
timeline types/senders, rooms/not_rooms, state filters, lazy-loading room members."""

from __future__ import annotations

import json
from typing import Any

from test_sync import V3, bodies, create_room, do_sync, join, send

ServerHandle = Any


async def test_filter_upload_and_fetch(server: ServerHandle) -> None:
    alice, token, _ = await server.register("alice")
    bob, bob_token, _ = await server.register("bob")
    definition = {"room": {"timeline": {"limit": 5, "types": ["m.room.*"]}}}
    status, body = await server.request("POST", f"{V3}/user/{alice}/filter", token, json=definition)
    assert status == 200, body
    filter_id = body["filter_id"]
    assert isinstance(filter_id, str)
    status, fetched = await server.request("GET", f"{V3}/user/{alice}/filter/{filter_id}", token)
    assert (status, fetched) == (200, definition)
    # Another user's filters are out of bounds; unknown IDs are 404.
    status, body = await server.request("GET", f"{V3}/user/{alice}/filter/{filter_id}", bob_token)
    assert status == 403 and body["errcode"] == "M_FORBIDDEN"
    status, body = await server.request("POST", f"{V3}/user/{alice}/filter", bob_token, json={})
    assert status == 403
    status, body = await server.request("GET", f"{V3}/user/{bob}/filter/{filter_id}", bob_token)
    assert status == 404 and body["errcode"] == "M_NOT_FOUND"
    status, body = await server.request("GET", f"{V3}/user/{alice}/filter/nope", token)
    assert status == 404
    # Malformed definitions are refused.
    for bad in ({"room": {"timeline": {"limit": 0}}}, {"room": []}, {"presence": {"types": "x"}}):
        status, body = await server.request("POST", f"{V3}/user/{alice}/filter", token, json=bad)
        assert status == 400 and body["errcode"] == "M_BAD_JSON", bad


async def test_sync_with_stored_filter_types_and_senders(server: ServerHandle) -> None:
    alice, token, _ = await server.register("alice")
    bob, bob_token, _ = await server.register("bob")
    room_id = await create_room(server, token, preset="public_chat")
    await join(server, bob_token, room_id)
    await send(server, token, room_id, "from alice")
    await send(server, bob_token, room_id, "from bob")
    definition = {"room": {"timeline": {"types": ["m.room.mess*"], "not_senders": [bob]}}}
    _, body = await server.request("POST", f"{V3}/user/{alice}/filter", token, json=definition)
    synced = await do_sync(server, token, filter=body["filter_id"])
    events = synced["rooms"]["join"][room_id]["timeline"]["events"]
    assert [e["content"]["body"] for e in events] == ["from alice"]
    only_bob = json.dumps({"room": {"timeline": {"senders": [bob]}}})
    synced = await do_sync(server, token, filter=only_bob)
    events = synced["rooms"]["join"][room_id]["timeline"]["events"]
    assert {e["sender"] for e in events} == {bob}
    assert "from bob" in bodies(synced["rooms"]["join"][room_id])


async def test_room_filters(server: ServerHandle) -> None:
    _, token, _ = await server.register("alice")
    first = await create_room(server, token)
    second = await create_room(server, token)
    synced = await do_sync(server, token, filter=json.dumps({"room": {"rooms": [first]}}))
    assert set(synced["rooms"]["join"]) == {first}
    synced = await do_sync(server, token, filter=json.dumps({"room": {"not_rooms": [first]}}))
    assert set(synced["rooms"]["join"]) == {second}
    state_filter = json.dumps({"room": {"state": {"types": ["m.room.create"]}}})
    synced = await do_sync(server, token, filter=state_filter)
    for room in synced["rooms"]["join"].values():
        assert {e["type"] for e in room["state"]["events"]} <= {"m.room.create"}


async def test_lazy_loading_members(server: ServerHandle) -> None:
    alice, token, _ = await server.register("alice")
    others = [await server.register(name) for name in ("bob", "carol", "dave")]
    room_id = await create_room(server, token, preset="public_chat")
    for _, other_token, _ in others:
        await join(server, other_token, room_id)
    for i in range(12):
        await send(server, token, room_id, f"a{i}")
    bob, bob_token, _ = others[0]
    await send(server, bob_token, room_id, "bob speaks")
    lazy = json.dumps({"room": {"state": {"lazy_load_members": True}}})
    synced = await do_sync(server, token, filter=lazy)
    room = synced["rooms"]["join"][room_id]
    members = {e["state_key"] for e in room["state"]["events"] if e["type"] == "m.room.member"}
    # Only the senders of timeline events, plus the syncing user.
    assert members == {alice, bob}
    assert room["summary"]["m.joined_member_count"] == 4
    # Incremental: a sender whose member event the client already has is not sent again...
    await send(server, bob_token, room_id, "bob again")
    carol, carol_token, _ = others[1]
    await send(server, carol_token, room_id, "carol speaks")
    later = await do_sync(server, token, synced["next_batch"], filter=lazy)
    room = later["rooms"]["join"][room_id]
    members = {e["state_key"] for e in room["state"]["events"] if e["type"] == "m.room.member"}
    assert members == {carol}
    # ...unless include_redundant_members is set.
    await send(server, bob_token, room_id, "bob thrice")
    redundant = json.dumps(
        {"room": {"state": {"lazy_load_members": True, "include_redundant_members": True}}}
    )
    again = await do_sync(server, token, later["next_batch"], filter=redundant)
    room = again["rooms"]["join"][room_id]
    members = {e["state_key"] for e in room["state"]["events"] if e["type"] == "m.room.member"}
    assert members == {bob}
    # Without lazy loading every member is in the state.
    full = await do_sync(server, token)
    room = full["rooms"]["join"][room_id]
    members = {e["state_key"] for e in room["state"]["events"] if e["type"] == "m.room.member"}
    members |= {e["state_key"] for e in room["timeline"]["events"] if e["type"] == "m.room.member"}
    assert len(members) == 4
