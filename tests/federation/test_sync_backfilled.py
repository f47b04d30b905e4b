"""/sync and history backfilled after a remote join.

Client-server API "Syncing": a timeline is the room's most recent events; ``limited`` is "True if
the number of events returned was limited by the ``limit`` on the filter", and ``prev_batch`` lets
the client fetch earlier events through ``/messages``. Backfilled history (server-server API
"Backfilling and retrieving missing events") takes stream positions below every sync token:

- an initial sync shows the newest of it like any other history, ``limited`` when there is more,
  and ``prev_batch`` continues exactly where the timeline starts;
- an incremental sync never returns it, but the newly joined room's timeline is then ``limited``
  so the client knows to paginate back to it.
"""

from __future__ import annotations

from typing import Any

import pytest

from support.servers import q

from .conftest import FedServer
from .test_backfill import V3, create_room, join, send_texts, set_name, sync


def bodies(events: list[dict[str, Any]]) -> list[str]:
    return [e["content"]["body"] for e in events if e["type"] == "m.room.message"]


async def messages(server: FedServer, token: str, room_id: str, start: str, limit: int) -> Any:
    status, answer = await server.request(
        "GET", f"{V3}/rooms/{q(room_id)}/messages", token,
        params={"dir": "b", "from": start, "limit": str(limit)},
    )  # fmt: skip
    assert status == 200, answer
    return answer


@pytest.mark.parametrize("room_version", ["1", "12"])
async def test_initial_sync_after_a_remote_join_shows_backfilled_history(
    two_servers: tuple[FedServer, FedServer], room_version: str
) -> None:
    a, b = two_servers
    _alice, alice_token, _ = await a.register("alice")
    bob, bob_token, _ = await b.register("bob")
    room_id = await create_room(a, alice_token, preset="public_chat", room_version=room_version)
    history = [f"m{i:02d}" for i in range(20)]
    await set_name(a, alice_token, room_id, "History")
    await send_texts(a, alice_token, room_id, history)
    await join(b, bob_token, room_id, a.server_name)
    positions = await b.hs.store.db.fetch(
        "SELECT stream_ordering FROM events WHERE room_id = $1 AND outlier = FALSE", room_id
    )
    assert sum(1 for p in positions if p["stream_ordering"] < 0) >= len(history)

    room = (await sync(b, bob_token))["rooms"]["join"][room_id]
    timeline = room["timeline"]
    events = timeline["events"]
    # The newest events: the history just before Bob's join, then the join.
    assert (events[-1]["type"], events[-1]["state_key"]) == ("m.room.member", bob)
    assert bodies(events) == history[-(len(events) - 1) :]
    assert timeline["limited"] is True
    # The state at the start of the timeline includes the room's name, set before it.
    names = [e for e in room["state"]["events"] if e["type"] == "m.room.name"]
    assert [e["content"]["name"] for e in names] == ["History"]
    # prev_batch continues right before the timeline's first event: no gap, no repeat.
    older = await messages(b, bob_token, room_id, timeline["prev_batch"], 3)
    expected = list(reversed(history[: -(len(events) - 1)]))[:3]
    assert bodies(older["chunk"]) == expected


async def test_incremental_sync_leaves_backfilled_history_out_but_is_limited(
    two_servers: tuple[FedServer, FedServer],
) -> None:
    a, b = two_servers
    _alice, alice_token, _ = await a.register("alice")
    bob, bob_token, _ = await b.register("bob")
    room_id = await create_room(a, alice_token, preset="public_chat", room_version="10")
    await send_texts(a, alice_token, room_id, ["h1", "h2", "h3"])
    since = (await sync(b, bob_token))["next_batch"]
    await join(b, bob_token, room_id, a.server_name)

    timeline = (await sync(b, bob_token, since))["rooms"]["join"][room_id]["timeline"]
    # Only what was persisted after ``since``: Bob's join, not the history before it ...
    assert bodies(timeline["events"]) == []
    assert [(e["type"], e.get("state_key")) for e in timeline["events"]] == [("m.room.member", bob)]
    # ... which there is, so the timeline is limited and prev_batch reaches it.
    assert timeline["limited"] is True
    older = await messages(b, bob_token, room_id, timeline["prev_batch"], 10)
    assert bodies(older["chunk"]) == ["h3", "h2", "h1"]


async def test_room_with_only_live_events_is_not_limited(
    two_servers: tuple[FedServer, FedServer],
) -> None:
    """A newly joined room without backfilled history is limited only by the filter's limit."""
    a, _b = two_servers
    _alice, alice_token, _ = await a.register("alice")
    since = (await sync(a, alice_token))["next_batch"]
    room_id = await create_room(a, alice_token, preset="public_chat", room_version="10")
    timeline = (await sync(a, alice_token, since))["rooms"]["join"][room_id]["timeline"]
    assert timeline["limited"] is False
    assert timeline["events"][0]["type"] == "m.room.create"
