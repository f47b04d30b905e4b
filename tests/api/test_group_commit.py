"""Many clients sending into one room at once (client-server API ``PUT /send``): the sends are
committed in batches, yet each request gets its own event, a repeated transaction ID gets the
first request's event, a sender outside the room is refused alone, the room's DAG is one chain in
stream order, and ``/sync`` (initial and incremental) shows every message exactly once."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from test_sync import create_room, do_sync, join

from support.servers import q

ServerHandle = Any
V3 = "/_matrix/client/v3"
SENDERS = 10
MESSAGES = 8


async def put_message(
    server: ServerHandle, token: str, room_id: str, body: str, txn: str
) -> tuple[int, Any]:
    status, answer = await server.request(
        "PUT", f"{V3}/rooms/{q(room_id)}/send/m.room.message/{txn}", token,
        json={"msgtype": "m.text", "body": body},
    )  # fmt: skip
    return status, answer


async def test_concurrent_senders_one_room(server: ServerHandle) -> None:
    _, owner_token, _ = await server.register("owner")
    room_id = await create_room(server, owner_token, preset="public_chat")
    senders = [await server.register(f"sender{i}") for i in range(SENDERS)]
    for _, token, _ in senders:
        await join(server, token, room_id)
    _, outsider_token, _ = await server.register("outsider")
    first = await do_sync(server, owner_token)
    since = first["next_batch"]

    async def sender(index: int, token: str) -> list[str]:
        ids: list[str] = []
        for n in range(MESSAGES):
            body = f"s{index}-{n}"
            # The same request twice at once: one event, both answered with it.
            (s1, a1), (s2, a2) = await asyncio.gather(
                put_message(server, token, room_id, body, f"t{n}"),
                put_message(server, token, room_id, body, f"t{n}"),
            )
            assert (s1, s2) == (200, 200), (a1, a2)
            assert a1["event_id"] == a2["event_id"]
            ids.append(a1["event_id"])
        return ids

    async def outsider() -> None:
        for n in range(MESSAGES):
            status, answer = await put_message(server, outsider_token, room_id, "no", f"o{n}")
            assert status == 403, answer
            assert answer["errcode"] == "M_FORBIDDEN"

    results = await asyncio.gather(
        *(sender(i, token) for i, (_, token, _) in enumerate(senders)), outsider()
    )
    sent = [event_id for ids in results[:SENDERS] for event_id in ids]
    assert len(set(sent)) == SENDERS * MESSAGES

    # The DAG is a chain: each event cites the previous one, stream order is depth order.
    rows = await server.hs.rooms.events.db.fetch(
        "SELECT event_id, depth FROM events WHERE room_id = $1 ORDER BY stream_ordering", room_id
    )
    ids = [r["event_id"] for r in rows]
    events = await server.hs.rooms.events.get_events(ids)
    for before, after in itertools.pairwise(rows):
        assert events[after["event_id"]].prev_event_ids == [before["event_id"]]
        assert after["depth"] == before["depth"] + 1
    assert set(ids[-len(sent) :]) == set(sent)

    def messages(body: dict[str, Any]) -> list[str]:
        room = body["rooms"]["join"].get(room_id, {})
        return [e["event_id"] for e in room.get("timeline", {}).get("events", [])
                if e["type"] == "m.room.message"]  # fmt: skip

    in_order = [i for i in ids if i in set(sent)]
    timeline_filter = '{"room": {"timeline": {"limit": 200}}}'
    incremental = await do_sync(server, owner_token, since, filter=timeline_filter)
    assert messages(incremental) == in_order
    initial = await do_sync(server, owner_token, filter=timeline_filter)
    assert messages(initial) == in_order
    for index, event_ids in enumerate(results[:SENDERS]):
        mine = [i for i in in_order if i in set(event_ids)]
        assert mine == event_ids, f"sender {index}'s messages out of order"
