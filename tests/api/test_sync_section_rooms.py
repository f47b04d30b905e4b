"""/sync with ``rooms``/``not_rooms`` inside the RoomEventFilters of a RoomFilter (client-server
API "Filtering": ``timeline``, ``state``, ``ephemeral`` and ``account_data`` are
RoomEventFilters, each with "A list of room IDs to include/exclude"): each list applies to its
own section only, on initial and incremental syncs, for stored and inline filters."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from test_sync import V3, bodies, create_room, do_sync, join, put_state, send

ServerHandle = Any


async def stored_and_inline(server: ServerHandle, token: str, user_id: str, f: Any) -> list[str]:
    """The filter as inline JSON and as the ID of the same filter uploaded."""
    status, body = await server.request("POST", f"{V3}/user/{user_id}/filter", token, json=f)
    assert status == 200, body
    return [json.dumps(f), body["filter_id"]]


async def put_room_data(
    server: ServerHandle, token: str, user_id: str, room_id: str, data_type: str
) -> None:
    path = f"{V3}/user/{quote(user_id)}/rooms/{quote(room_id)}/account_data/{data_type}"
    status, body = await server.request("PUT", path, token, json={"n": 1})
    assert status == 200, body


async def login(server: ServerHandle, user_id: str) -> str:
    """An access token for a new device of ``user_id`` (registered with password "pw")."""
    body = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user_id},
            "password": "pw"}  # fmt: skip
    status, resp = await server.request("POST", f"{V3}/login", json=body)
    assert status == 200, resp
    return str(resp["access_token"])


def state_types(room: dict[str, Any]) -> set[tuple[str, str]]:
    return {(e["type"], e["state_key"]) for e in room["state"]["events"]}


async def test_timeline_rooms_leave_the_room_and_its_state(server: ServerHandle) -> None:
    alice, token, _ = await server.register("alice")
    first = await create_room(server, token, name="First")
    second = await create_room(server, token, name="Second")
    await send(server, token, first, "in first")
    await send(server, token, second, "in second")
    for definition in (
        {"room": {"timeline": {"rooms": [second]}}},
        {"room": {"timeline": {"not_rooms": [first]}}},
        {"room": {"timeline": {"rooms": [first, second], "not_rooms": [first]}}},
    ):
        for sync_filter in await stored_and_inline(server, token, alice, definition):
            synced = await do_sync(server, token, filter=sync_filter)
            joined = synced["rooms"]["join"]
            # The room is still listed, with an empty timeline and the whole state (the state
            # at the timeline's start: that is, at its end).
            assert set(joined) == {first, second}, definition
            room = joined[first]
            assert room["timeline"]["events"] == [] and room["timeline"]["limited"] is False
            assert room["timeline"]["prev_batch"]
            assert {("m.room.create", ""), ("m.room.name", ""), ("m.room.member", alice)} <= (
                state_types(room)
            )
            assert room["summary"]["m.joined_member_count"] == 1
            assert bodies(joined[second]) == ["in second"]
            assert ("m.room.name", "") not in state_types(joined[second])


async def test_timeline_rooms_on_incremental_syncs(server: ServerHandle) -> None:
    alice, token, _ = await server.register("alice")
    first = await create_room(server, token, preset="public_chat")
    second = await create_room(server, token, preset="public_chat")
    definition = {"room": {"timeline": {"not_rooms": [first]}}}
    filters = await stored_and_inline(server, token, alice, definition)
    for i, sync_filter in enumerate(filters):
        bob, bob_token, _ = await server.register(f"bob{i}")
        start = await do_sync(server, token, filter=sync_filter)
        await send(server, token, first, "hidden")
        await send(server, token, second, "shown")
        later = await do_sync(server, token, start["next_batch"], filter=sync_filter)
        # Nothing else new in the first room: it is left out, as a room is whose new events
        # a timeline filter all hides.
        assert set(later["rooms"]["join"]) == {second}
        assert bodies(later["rooms"]["join"][second]) == ["shown"]
        # State changes the timeline does not show come in the room's state.
        await put_state(server, token, first, "m.room.topic", {"topic": "new"})
        await join(server, bob_token, first)
        await put_room_data(server, token, alice, first, "org.example.seen")
        again = await do_sync(server, token, later["next_batch"], filter=sync_filter)
        room = again["rooms"]["join"][first]
        assert room["timeline"]["events"] == []
        assert state_types(room) == {("m.room.topic", ""), ("m.room.member", bob)}
        assert room["account_data"]["events"] == [{"type": "org.example.seen", "content": {"n": 1}}]
    # The same sync without the filter shows them in the timeline.
    unfiltered = await do_sync(server, token, start["next_batch"])
    assert "hidden" in bodies(unfiltered["rooms"]["join"][first])


async def test_timeline_rooms_newly_joined_room(server: ServerHandle) -> None:
    alice, token, _ = await server.register("alice")
    bob, bob_token, _ = await server.register("bob")
    room_id = await create_room(server, token, preset="public_chat", name="Joined later")
    await send(server, token, room_id, "before bob")
    sync_filter = json.dumps({"room": {"timeline": {"rooms": ["!elsewhere:test.local"]}}})
    start = await do_sync(server, bob_token, filter=sync_filter)
    await join(server, bob_token, room_id)
    synced = await do_sync(server, bob_token, start["next_batch"], filter=sync_filter)
    room = synced["rooms"]["join"][room_id]
    assert room["timeline"]["events"] == []
    types = state_types(room)
    assert {("m.room.create", ""), ("m.room.name", ""), ("m.room.member", bob)} <= types
    assert ("m.room.member", alice) in types


async def test_state_rooms_only_touch_the_state(server: ServerHandle) -> None:
    alice, token, _ = await server.register("alice")
    first = await create_room(server, token, name="First")
    second = await create_room(server, token, name="Second")
    await send(server, token, first, "in first")
    for definition in (
        {"room": {"state": {"not_rooms": [first]}, "timeline": {"limit": 2}}},
        {
            "room": {
                "state": {"rooms": [second], "lazy_load_members": True},
                "timeline": {"limit": 2},
            }
        },
    ):
        for sync_filter in await stored_and_inline(server, token, alice, definition):
            synced = await do_sync(server, token, filter=sync_filter)
            room = synced["rooms"]["join"][first]
            assert room["state"]["events"] == []
            assert bodies(room) == ["in first"]
            assert ("m.room.create", "") in state_types(synced["rooms"]["join"][second])
    # With lazy-loading, member events left out of an excluded room's state are not taken as
    # sent: once the room's state is allowed, its senders' members come.
    lazy_first = json.dumps({"room": {"state": {"rooms": [second], "lazy_load_members": True}}})
    start = await do_sync(server, token, filter=lazy_first)
    await send(server, token, first, "again")
    await put_state(server, token, first, "m.room.topic", {"topic": "t"})
    lazy_all = json.dumps(
        {"room": {"state": {"lazy_load_members": True}, "timeline": {"limit": 1}}}
    )
    later = await do_sync(server, token, start["next_batch"], filter=lazy_all)
    assert ("m.room.member", alice) in state_types(later["rooms"]["join"][first])


async def test_ephemeral_and_account_data_rooms(server: ServerHandle) -> None:
    alice, token, _ = await server.register("alice")
    first = await create_room(server, token)
    second = await create_room(server, token)
    start = await do_sync(server, token)
    for room_id in (first, second):
        status, body = await server.request(
            "PUT", f"{V3}/rooms/{room_id}/typing/{alice}", token,
            json={"typing": True, "timeout": 10000},
        )  # fmt: skip
        assert status == 200, body
        await put_room_data(server, token, alice, room_id, "org.example.tag")
    definition = {"room": {"ephemeral": {"not_rooms": [first]}, "account_data": {"rooms": [first]}}}
    for sync_filter in await stored_and_inline(server, token, alice, definition):
        # A device of its own each time: typing is reported once per device.
        device_token = await login(server, alice)
        synced = await do_sync(server, device_token, start["next_batch"], filter=sync_filter)
        joined = synced["rooms"]["join"]
        assert joined[first]["ephemeral"]["events"] == []
        assert joined[first]["account_data"]["events"] == [
            {"type": "org.example.tag", "content": {"n": 1}}
        ]
        typing = {"type": "m.typing", "content": {"user_ids": [alice]}}
        assert typing in joined[second]["ephemeral"]["events"]
        assert joined[second]["account_data"]["events"] == []


async def test_left_rooms_honour_timeline_state_and_account_data_rooms(
    server: ServerHandle,
) -> None:
    _, alice_token, _ = await server.register("alice")
    bob, bob_token, _ = await server.register("bob")
    kicked = await create_room(server, alice_token, preset="public_chat")
    rejected = await create_room(server, alice_token, preset="public_chat")
    await join(server, bob_token, kicked)
    start = await do_sync(server, bob_token)
    await put_room_data(server, bob_token, bob, kicked, "org.example.note")
    await send(server, alice_token, kicked, "before kick")
    status, body = await server.request(
        "POST", f"{V3}/rooms/{kicked}/kick", alice_token, json={"user_id": bob}
    )
    assert status == 200, body
    status, body = await server.request(
        "POST", f"{V3}/rooms/{rejected}/invite", alice_token, json={"user_id": bob}
    )
    assert status == 200, body
    status, body = await server.request("POST", f"{V3}/rooms/{rejected}/leave", bob_token, json={})
    assert status == 200, body
    hide = {"timeline": {"not_rooms": [kicked, rejected]}, "account_data": {"not_rooms": [kicked]}}
    for sync_filter in await stored_and_inline(server, bob_token, bob, {"room": hide}):
        synced = await do_sync(server, bob_token, start["next_batch"], filter=sync_filter)
        left = synced["rooms"]["leave"]
        assert set(left) == {kicked, rejected}
        for room_id in (kicked, rejected):
            assert left[room_id]["timeline"]["events"] == []
            # The leave the timeline does not show is in the state.
            assert ("m.room.member", bob) in state_types(left[room_id])
        assert left[kicked]["account_data"]["events"] == []
        # Initial syncs with include_leave likewise.
        initial = await do_sync(
            server, bob_token,
            filter=json.dumps({"room": {**hide, "include_leave": True}}),
        )  # fmt: skip
        room = initial["rooms"]["leave"][kicked]
        assert room["timeline"]["events"] == [] and room["account_data"]["events"] == []
    # A state filter excluding the room leaves the timeline alone.
    only_timeline = json.dumps({"room": {"state": {"not_rooms": [kicked]}}})
    synced = await do_sync(server, bob_token, start["next_batch"], filter=only_timeline)
    room = synced["rooms"]["leave"][kicked]
    assert room["state"]["events"] == [] and bodies(room) == ["before kick"]
    unfiltered = await do_sync(server, bob_token, start["next_batch"])
    assert unfiltered["rooms"]["leave"][kicked]["account_data"]["events"] == [
        {"type": "org.example.note", "content": {"n": 1}}
    ]


async def test_state_hidden_by_contains_url_comes_in_state(server: ServerHandle) -> None:
    _, token, _ = await server.register("alice")
    room_id = await create_room(server, token)
    sync_filter = json.dumps({"room": {"timeline": {"contains_url": True}}})
    start = await do_sync(server, token, filter=sync_filter)
    topic_id = await put_state(server, token, room_id, "m.room.topic", {"topic": "files"})
    status, body = await server.request(
        "PUT", f"{V3}/rooms/{room_id}/send/m.room.message/with-url", token,
        json={"msgtype": "m.file", "body": "f", "url": "mxc://test.local/f"},
    )  # fmt: skip
    assert status == 200, body
    synced = await do_sync(server, token, start["next_batch"], filter=sync_filter)
    room = synced["rooms"]["join"][room_id]
    assert [e["event_id"] for e in room["timeline"]["events"]] == [body["event_id"]]
    assert [e["event_id"] for e in room["state"]["events"]] == [topic_id]
