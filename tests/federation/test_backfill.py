"""History via backfill between two Transom servers.

Server-server API "Backfilling and retrieving missing events"; client-server API "Getting events
for a room" (``/messages``), "Syncing" (incremental sync) and "Room History Visibility". A user
who joins a room on another server sees the history before the join through ``/messages`` (in
order, without gaps or duplicates, fetched from the resident server as pagination reaches the
start of what is stored), never in an incremental sync; ``joined`` visibility hides it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from support.servers import q
from transom.storage.persist import StreamAllocator

from .conftest import FedServer

V3 = "/_matrix/client/v3"


async def create_room(server: FedServer, token: str, **body: Any) -> str:
    status, answer = await server.request("POST", f"{V3}/createRoom", token, json=body)
    assert status == 200, answer
    room_id: str = answer["room_id"]
    return room_id


async def send_texts(server: FedServer, token: str, room_id: str, texts: list[str]) -> None:
    for text in texts:
        status, answer = await server.request(
            "PUT", f"{V3}/rooms/{q(room_id)}/send/m.room.message/t{text}", token,
            json={"msgtype": "m.text", "body": text},
        )  # fmt: skip
        assert status == 200, answer


async def join(server: FedServer, token: str, room_id: str, via: str) -> None:
    status, answer = await server.request(
        "POST", f"{V3}/join/{q(room_id)}", token, json={}, params={"server_name": via}
    )
    assert status == 200, answer
    await server.hs.federation_events.backfiller.wait_idle()


async def all_messages(server: FedServer, token: str, room_id: str, page: int) -> list[str]:
    """Every m.room.message body through /messages backwards, oldest first."""
    found: list[str] = []
    seen: set[str] = set()
    params = {"dir": "b", "limit": str(page)}
    for _ in range(100):
        status, answer = await server.request(
            "GET", f"{V3}/rooms/{q(room_id)}/messages", token, params=params
        )
        assert status == 200, answer
        for event in answer["chunk"]:
            assert event["event_id"] not in seen, "an event was served twice"
            seen.add(event["event_id"])
            if event["type"] == "m.room.message":
                found.append(event["content"]["body"])
        if answer.get("end") is None:
            return list(reversed(found))
        params["from"] = answer["end"]
    raise AssertionError("pagination did not end")


async def set_name(server: FedServer, token: str, room_id: str, name: str) -> None:
    status, answer = await server.request(
        "PUT", f"{V3}/rooms/{q(room_id)}/state/m.room.name", token, json={"name": name}
    )
    assert status == 200, answer


async def first_message_id(server: FedServer, token: str, room_id: str) -> str:
    status, answer = await server.request(
        "GET", f"{V3}/rooms/{q(room_id)}/messages", token,
        params={"dir": "f", "limit": "30", "filter": '{"types": ["m.room.message"]}'},
    )  # fmt: skip
    assert status == 200, answer
    event_id: str = answer["chunk"][0]["event_id"]
    return event_id


async def sync(server: FedServer, token: str, since: str | None = None) -> Any:
    params = {"timeout": "0"}
    if since is not None:
        params["since"] = since
    status, answer = await server.request("GET", f"{V3}/sync", token, params=params)
    assert status == 200, answer
    return answer


@pytest.mark.parametrize("room_version", ["1", "10", "12"])
async def test_history_before_a_remote_join_through_messages_not_sync(
    two_servers: tuple[FedServer, FedServer], room_version: str
) -> None:
    a, b = two_servers
    _alice, alice_token, _ = await a.register("alice")
    bob, bob_token, _ = await b.register("bob")
    room_id = await create_room(a, alice_token, preset="public_chat", room_version=room_version)
    # More than one join-time backfill (50 events) holds: /messages must backfill again.
    history = [f"m{i:02d}" for i in range(70)]
    await set_name(a, alice_token, room_id, "Old name")
    await send_texts(a, alice_token, room_id, history[:35])
    await set_name(a, alice_token, room_id, "New name")
    await send_texts(a, alice_token, room_id, history[35:])
    since = (await sync(b, bob_token))["next_batch"]

    await join(b, bob_token, room_id, a.server_name)

    # Backfilled events sit below every sync position: no incremental sync returns them.
    answer = await sync(b, bob_token, since)
    timeline = answer["rooms"]["join"][room_id]["timeline"]["events"]
    assert [e for e in timeline if e["type"] == "m.room.message"] == []
    assert any(e["type"] == "m.room.member" for e in timeline)
    after_join = await sync(b, bob_token, answer["next_batch"])
    assert room_id not in after_join.get("rooms", {}).get("join", {})
    # A client's usual path: an initial sync (its timeline is the newest history, see
    # test_sync_backfilled), then /messages from the timeline's prev_batch.
    initial = (await sync(b, bob_token))["rooms"]["join"][room_id]["timeline"]
    shown = [e["content"]["body"] for e in initial["events"] if e["type"] == "m.room.message"]
    assert shown == history[-len(shown) :] and "m69" in shown and initial["limited"]
    status, answer = await b.request(
        "GET", f"{V3}/rooms/{q(room_id)}/messages", bob_token,
        params={"dir": "b", "from": initial["prev_batch"], "limit": "3"},
    )  # fmt: skip
    assert status == 200, answer
    older = history[: -len(shown)][-3:]
    assert [e["content"]["body"] for e in answer["chunk"]] == list(reversed(older))

    # /messages on B: the whole history, oldest first, no gaps, no duplicates.
    assert await all_messages(b, bob_token, room_id, page=16) == history
    # ... and the room's own state events are history too, down to the create event.
    status, answer = await b.request(
        "GET", f"{V3}/rooms/{q(room_id)}/messages", bob_token,
        params={"dir": "f", "limit": "3"},
    )  # fmt: skip
    assert status == 200, answer
    assert answer["chunk"][0]["type"] == "m.room.create"
    # Backfill moved neither the current state nor the forward extremities on B.
    status, members = await b.request("GET", f"{V3}/rooms/{q(room_id)}/joined_members", bob_token)
    assert status == 200 and len(members["joined"]) == 2, members
    status, name = await b.request("GET", f"{V3}/rooms/{q(room_id)}/state/m.room.name", bob_token)
    assert (status, name) == (200, {"name": "New name"})
    extremities = await b.hs.rooms.events.get_forward_extremities(room_id)
    [join_event] = (await b.hs.rooms.events.get_events(extremities)).values()
    assert (join_event.type, join_event.state_key) == ("m.room.member", bob)
    # The negative positions survive a restart: the allocator starts below the lowest.
    lowest = await b.hs.store.db.fetchval("SELECT MIN(stream_ordering) FROM events")
    assert lowest < 0 and b.hs.rooms.streams.backfill_current == lowest
    reopened = StreamAllocator(b.hs.store.db)
    await reopened.setup()
    assert reopened.backfill_current == lowest
    # /context around a backfilled event: its tokens carry the negative position.
    first = await first_message_id(b, bob_token, room_id)
    status, context = await b.request(
        "GET", f"{V3}/rooms/{q(room_id)}/context/{q(first)}", bob_token, params={"limit": "4"}
    )
    assert status == 200, context
    assert [e["content"]["body"] for e in context["events_after"]][:2] == ["m01", "m02"]
    status, older = await b.request(
        "GET", f"{V3}/rooms/{q(room_id)}/messages", bob_token,
        params={"dir": "f", "from": context["end"], "limit": "1"},
    )  # fmt: skip
    assert status == 200, older

    # Messages after the join arrive as usual and sort after the history.
    await send_texts(a, alice_token, room_id, ["later"])

    for _ in range(300):
        if (await all_messages(b, bob_token, room_id, page=50))[-1:] == ["later"]:
            break
        await asyncio.sleep(0.05)
    assert await all_messages(b, bob_token, room_id, page=50) == [*history, "later"]


async def test_joined_visibility_hides_backfilled_history(
    two_servers: tuple[FedServer, FedServer],
) -> None:
    a, b = two_servers
    _alice, alice_token, _ = await a.register("alice")
    bob, bob_token, _ = await b.register("bob")
    room_id = await create_room(
        a, alice_token, preset="public_chat", room_version="10",
        initial_state=[{"type": "m.room.history_visibility", "state_key": "",
                        "content": {"history_visibility": "joined"}}],
    )  # fmt: skip
    await send_texts(a, alice_token, room_id, ["secret-1", "secret-2"])
    await join(b, bob_token, room_id, a.server_name)
    # The history was backfilled (stored as timeline events on B) ...
    stored = await b.hs.rooms.pages.page(room_id, start=None, end=None, backwards=False, limit=50)
    bodies = [s.stored.event.content.get("body") for s in stored]
    assert "secret-1" in bodies and "secret-2" in bodies
    join_id = next(s.stored.event.event_id for s in stored if s.stored.event.sender == bob)
    assert all(s.stored.stream_ordering < 0 for s in stored if s.stored.event.event_id != join_id)
    # ... but Bob was not joined when it was sent.
    assert await all_messages(b, bob_token, room_id, page=10) == []


async def test_messages_ends_gracefully_when_the_resident_server_is_gone(
    two_servers: tuple[FedServer, FedServer],
) -> None:
    a, b = two_servers
    _alice, alice_token, _ = await a.register("alice")
    _bob, bob_token, _ = await b.register("bob")
    room_id = await create_room(a, alice_token, preset="public_chat", room_version="10")
    history = [f"m{i:02d}" for i in range(60)]
    await send_texts(a, alice_token, room_id, history)
    await join(b, bob_token, room_id, a.server_name)
    await a.stop()
    # Only what the join-time backfill fetched (its 50 most recent events), then the end.
    got = await all_messages(b, bob_token, room_id, page=20)
    assert got and got == history[-len(got) :]
    assert len(got) < len(history)
