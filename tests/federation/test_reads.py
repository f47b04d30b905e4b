"""Read endpoints over federation: /event, /state, /state_ids, /event_auth, /get_missing_events,
/backfill; who may read (servers in the room), ACLs and unknown rooms.

Spec: server-server API "Retrieving events", "Retrieving event authorisation information",
"Backfilling and retrieving missing events", "Server Access Control Lists".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from support.servers import q
from transom.core.events import Event

from .fake_remote import FakeRemoteServer
from .test_inbound import Room, make_room

V1 = "/_matrix/federation/v1"


@pytest.fixture
async def remote(tmp_path: Path) -> AsyncIterator[FakeRemoteServer]:
    fake = await FakeRemoteServer().start(tmp_path / "fake")
    yield fake
    await fake.stop()


@pytest.fixture
async def stranger(tmp_path: Path) -> AsyncIterator[FakeRemoteServer]:
    fake = await FakeRemoteServer().start(tmp_path / "stranger")
    yield fake
    await fake.stop()


@pytest.fixture
async def room(make_fed_server: Any, remote: FakeRemoteServer) -> Room:
    return await make_room(await make_fed_server(), remote)


async def auth_chain_ids(room: Room, event_ids: list[str]) -> set[str]:
    found: set[str] = set()
    frontier = set(event_ids)
    while frontier:
        events = await room.server.hs.rooms.events.get_events(frontier)
        found |= events.keys()
        frontier = {a for e in events.values() for a in e.auth_event_ids} - found
    return found


async def test_state_ids_and_state_at_an_event(room: Room) -> None:
    hs = room.server.hs
    before_join = await hs.rooms.state.get_state_after(room.bob_join.prev_event_ids[0])
    assert before_join is not None
    status, body = await room.remote.request(
        room.server, "GET", f"{V1}/state_ids/{q(room.room_id)}",
        query={"event_id": room.bob_join.event_id},
    )  # fmt: skip
    assert status == 200, body
    # The state before the event: Bob's join itself is not in it.
    assert set(body["pdu_ids"]) == set(before_join.values())
    assert room.bob_join.event_id not in body["pdu_ids"]
    assert set(body["auth_chain_ids"]) == await auth_chain_ids(room, list(before_join.values()))
    status, full = await room.remote.request(
        room.server, "GET", f"{V1}/state/{q(room.room_id)}",
        query={"event_id": room.bob_join.event_id},
    )  # fmt: skip
    assert status == 200
    assert {(p["type"], p["state_key"]) for p in full["pdus"]} == set(before_join)
    assert len(full["auth_chain"]) == len(body["auth_chain_ids"])


async def test_event_and_event_auth(room: Room) -> None:
    status, body = await room.remote.request(
        room.server, "GET", f"{V1}/event/{q(room.bob_join.prev_event_ids[0])}"
    )
    assert status == 200 and len(body["pdus"]) == 1
    assert body["origin"] == room.server.server_name
    status, body = await room.remote.request(
        room.server, "GET", f"{V1}/event_auth/{q(room.room_id)}/{q(room.bob_join.event_id)}"
    )
    assert status == 200
    types = {p["type"] for p in body["auth_chain"]}
    assert {"m.room.create", "m.room.power_levels", "m.room.join_rules"} <= types
    cited = list(room.bob_join.auth_event_ids)
    if room.bob_join.room_version.room_id_is_create_hash:
        cited.append("$" + room.room_id[1:])  # v12: the create event is implied, not cited
    expected = await auth_chain_ids(room, cited)
    assert len(body["auth_chain"]) == len(expected)


async def send_messages(room: Room, count: int) -> list[Event]:
    sent = []
    for n in range(count):
        msg = await room.remote.make_event_from_state(
            room.server.hs, room.room_id, room.bob, "m.room.message",
            {"msgtype": "m.text", "body": f"n{n}"},
        )  # fmt: skip
        _, body = await room.remote.send_transaction(room.server, [msg])
        assert body["pdus"] == {msg.event_id: {}}
        sent.append(msg)
    return sent


async def test_get_missing_events_and_backfill(room: Room) -> None:
    m = await send_messages(room, 4)
    status, body = await room.remote.request(
        room.server, "POST", f"{V1}/get_missing_events/{q(room.room_id)}",
        {"earliest_events": [m[0].event_id], "latest_events": [m[3].event_id], "limit": 10},
    )  # fmt: skip
    assert status == 200, body
    assert [e["content"]["body"] for e in body["events"]] == ["n1", "n2"]
    status, body = await room.remote.request(
        room.server, "GET", f"{V1}/backfill/{q(room.room_id)}",
        query={"v": m[3].event_id, "limit": "3"},
    )  # fmt: skip
    assert status == 200, body
    assert [p["content"].get("body") for p in body["pdus"]] == ["n3", "n2", "n1"]


async def test_a_server_not_in_the_room_is_refused(room: Room, stranger: FakeRemoteServer) -> None:
    event_id = room.bob_join.event_id
    for method, path, body, query in [
        ("GET", f"{V1}/state_ids/{q(room.room_id)}", None, {"event_id": event_id}),
        ("GET", f"{V1}/state/{q(room.room_id)}", None, {"event_id": event_id}),
        ("GET", f"{V1}/event_auth/{q(room.room_id)}/{q(event_id)}", None, None),
        ("GET", f"{V1}/backfill/{q(room.room_id)}", None, {"v": event_id}),
        ("GET", f"{V1}/event/{q(event_id)}", None, None),
        ("POST", f"{V1}/get_missing_events/{q(room.room_id)}",
         {"earliest_events": [], "latest_events": [event_id]}, None),
    ]:  # fmt: skip
        status, answer = await stranger.request(room.server, method, path, body, query=query)
        assert status == 403 and answer["errcode"] == "M_FORBIDDEN", (path, answer)


async def test_unknown_room_is_404(room: Room) -> None:
    unknown = "!unknown:" + room.server.server_name
    status, body = await room.remote.request(
        room.server, "GET", f"{V1}/state_ids/{q(unknown)}",
        query={"event_id": room.bob_join.event_id},
    )  # fmt: skip
    assert status == 404, body
    status, body = await room.remote.request(room.server, "GET", f"{V1}/event/{q('$nope')}")
    assert status == 404


async def test_acl_denied_server_is_refused(room: Room) -> None:
    status, _ = await room.server.request(
        "PUT",
        f"/_matrix/client/v3/rooms/{quote(room.room_id)}/state/m.room.server_acl",
        room.token,
        json={"allow": ["*"], "deny": ["127.0.0.1"]},
    )
    assert status == 200
    status, body = await room.remote.request(
        room.server, "GET", f"{V1}/state_ids/{q(room.room_id)}",
        query={"event_id": room.bob_join.event_id},
    )  # fmt: skip
    assert status == 403 and body["errcode"] == "M_FORBIDDEN"
