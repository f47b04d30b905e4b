"""The ``filter`` of ``/messages`` and ``/context`` is the shared RoomEventFilter of ``/sync``.

Client-server API "Filtering" (``RoomEventFilter``: ``types``/``not_types`` with ``*`` as the
only wildcard, ``senders``/``not_senders``, ``rooms``/``not_rooms``, ``contains_url``,
``limit`` "greater than 0", ``lazy_load_members``) and "Getting events for a room" (the
``/context`` filter applies to ``events_before``, ``events_after`` and ``state``, not to the
event itself). Room versions: all (filters are not room-versioned).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from test_messages import V3, create_room, messages, put_state, send

ServerHandle = Any


async def room_with_history(server: ServerHandle) -> tuple[str, str, str, str, str]:
    """Alice's public room with Bob in it, messages from both (one with a ``url``, one with a
    ``url`` that is not a string) and a topic: ``(room_id, alice, a_token, bob, b_token)``."""
    alice, a_token, _ = await server.register("alice")
    bob, b_token, _ = await server.register("bob")
    room_id = await create_room(server, a_token, preset="public_chat")
    status, body = await server.request("POST", f"{V3}/join/{room_id}", b_token, json={})
    assert status == 200, body
    await send(server, a_token, room_id, "a0")
    await send(server, b_token, room_id, "b0", url="mxc://test.local/file")
    await put_state(server, a_token, room_id, "m.room.topic", {"topic": "porch"})
    await send(server, a_token, room_id, "a1", url=5)
    await send(server, b_token, room_id, "b1")
    return room_id, alice, a_token, bob, b_token


async def sync_timeline(server: ServerHandle, token: str, room_id: str, f: Any) -> list[str]:
    """Event IDs of the room's timeline in an initial /sync with ``f`` as timeline filter."""
    sync_filter = json.dumps({"room": {"timeline": {**f, "limit": 100}}})
    status, body = await server.request("GET", f"{V3}/sync", token, params={"filter": sync_filter})
    assert status == 200, body
    room = body["rooms"]["join"].get(room_id, {})
    return [e["event_id"] for e in room.get("timeline", {}).get("events", [])]


async def messages_ids(server: ServerHandle, token: str, room_id: str, f: Any) -> list[str]:
    """Event IDs of all of the room's history through /messages with filter ``f``, oldest
    first."""
    status, body = await messages(
        server, token, room_id, dir="f", limit="100", filter=json.dumps(f)
    )
    assert status == 200, body
    return [e["event_id"] for e in body["chunk"]]


async def test_every_field_selects_what_sync_selects(server: ServerHandle) -> None:
    room_id, alice, a_token, bob, _ = await room_with_history(server)
    filters: list[dict[str, Any]] = [
        {},
        {"types": ["m.room.message"]},
        {"types": ["m.room.*"], "not_types": ["m.room.member", "m.room.power_levels"]},
        {"types": ["m.room.messag?"]},  # only '*' is a wildcard
        {"types": ["*.topic"]},
        {"types": []},
        {"senders": [bob]},
        {"not_senders": [bob], "types": ["m.room.message"]},
        {"senders": [bob], "not_senders": [bob]},
        {"contains_url": True},
        {"contains_url": False, "types": ["m.room.message"]},
    ]
    for f in filters:
        expected = await sync_timeline(server, a_token, room_id, f)
        assert await messages_ids(server, a_token, room_id, f) == expected, f
    # The outcomes the spec words: a spot check that the comparison is not vacuous.
    by_url = await messages_ids(server, a_token, room_id, {"contains_url": True})
    assert len(by_url) == 1  # only the string url counts
    assert await messages_ids(server, a_token, room_id, {"types": ["m.room.messag?"]}) == []
    assert len(await messages_ids(server, a_token, room_id, {"senders": [alice]})) > 3
    # rooms/not_rooms ("A list of room IDs to include/exclude"), as /sync's RoomFilter has them.
    everything = await messages_ids(server, a_token, room_id, {})
    assert await messages_ids(server, a_token, room_id, {"rooms": [room_id]}) == everything
    for f in ({"rooms": ["!elsewhere:test.local"]}, {"not_rooms": [room_id]}):
        assert await messages_ids(server, a_token, room_id, f) == [], f


async def test_a_filter_leaving_the_room_out_ends_pagination(server: ServerHandle) -> None:
    room_id, _, a_token, _, _ = await room_with_history(server)
    nothing_here: list[dict[str, list[str]]] = [
        {"not_rooms": [room_id]},
        {"rooms": []},
        {"types": []},
    ]
    for f in nothing_here:
        status, body = await messages(server, a_token, room_id, dir="b", filter=json.dumps(f))
        assert status == 200, body
        assert body["chunk"] == [] and "end" not in body, f


async def test_limit_and_lazy_loading(server: ServerHandle) -> None:
    room_id, alice, a_token, bob, _ = await room_with_history(server)
    f = json.dumps({"limit": 3, "types": ["m.room.message"], "lazy_load_members": True})
    status, body = await messages(server, a_token, room_id, dir="b", filter=f)
    assert status == 200, body
    assert [e["content"]["body"] for e in body["chunk"]] == ["b1", "a1", "b0"]
    assert {e["state_key"] for e in body["state"]} == {alice, bob}
    # The query's limit wins over the filter's.
    status, body = await messages(server, a_token, room_id, dir="b", limit="1", filter=f)
    assert status == 200 and len(body["chunk"]) == 1


@pytest.mark.parametrize(
    "f",
    [
        "{not json",
        "[]",
        '{"types": "m.room.message"}',
        '{"not_senders": [5]}',
        '{"rooms": "!a:b"}',
        '{"limit": 0}',
        '{"limit": "5"}',
        '{"contains_url": "yes"}',
        '{"lazy_load_members": "yes"}',
        '{"include_redundant_members": 1}',
    ],
)
async def test_malformed_filters_are_refused(server: ServerHandle, f: str) -> None:
    _, token, _ = await server.register("alice")
    room_id = await create_room(server, token)
    event_id = await send(server, token, room_id, "m0")
    status, body = await messages(server, token, room_id, dir="b", filter=f)
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = await server.request(
        "GET", f"{V3}/rooms/{room_id}/context/{quote(event_id, safe='')}", token,
        params={"filter": f},
    )  # fmt: skip
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")


async def test_context_filters_around_and_state_but_not_the_event(server: ServerHandle) -> None:
    room_id, alice, a_token, bob, b_token = await room_with_history(server)
    middle = await send(server, b_token, room_id, "middle")
    for text in ("a2", "b2", "a3"):
        await send(server, a_token if text[0] == "a" else b_token, room_id, text)
    f = {"senders": [alice], "types": ["m.room.message", "m.room.topic"], "limit": 4}
    status, body = await server.request(
        "GET", f"{V3}/rooms/{room_id}/context/{quote(middle, safe='')}", a_token,
        params={"filter": json.dumps(f)},
    )  # fmt: skip
    assert status == 200, body
    assert body["event"]["sender"] == bob  # the event itself is not filtered
    assert [e["content"].get("body") for e in body["events_before"]] == ["a1", None]
    assert [e["content"]["body"] for e in body["events_after"]] == ["a2", "a3"]
    assert [e["type"] for e in body["state"]] == ["m.room.topic"]
    # Lazy loading: the senders' member events, through the same filter.
    f = {"types": ["m.room.message", "m.room.member"], "lazy_load_members": True, "limit": 2}
    status, body = await server.request(
        "GET", f"{V3}/rooms/{room_id}/context/{quote(middle, safe='')}", a_token,
        params={"filter": json.dumps(f)},
    )  # fmt: skip
    assert status == 200, body
    assert {e["state_key"] for e in body["state"]} == {alice, bob}
    assert {e["type"] for e in body["state"]} == {"m.room.member"}
