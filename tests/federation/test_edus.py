"""Outbound typing and receipt EDUs between two Transom servers.

Server-server API "Typing Notifications" and "Receipts"; client-server API "Typing
Notifications", "Receipts" (``m.read.private`` stays on the user's server) and "Syncing" (the
``ephemeral`` section of a joined room).
"""

from __future__ import annotations

from typing import Any

from support.servers import eventually, q

from .conftest import FedServer

V3 = "/_matrix/client/v3"


async def ephemeral(server: FedServer, token: str, room_id: str, since: str | None) -> list[Any]:
    params = {"timeout": "0", **({"since": since} if since else {})}
    status, answer = await server.request("GET", f"{V3}/sync", token, params=params)
    assert status == 200, answer
    room = answer.get("rooms", {}).get("join", {}).get(room_id, {})
    events: list[Any] = room.get("ephemeral", {}).get("events", [])
    return events


async def setup_room(a: FedServer, b: FedServer) -> tuple[str, str, str, str, str]:
    alice, alice_token, _ = await a.register("alice")
    _bob, bob_token, _ = await b.register("bob")
    status, answer = await a.request(
        "POST", f"{V3}/createRoom", alice_token, json={"preset": "public_chat"}
    )
    assert status == 200, answer
    room_id = answer["room_id"]
    status, answer = await b.request(
        "POST", f"{V3}/join/{q(room_id)}", bob_token, json={}, params={"server_name": a.server_name}
    )
    assert status == 200, answer

    async def joined_on_a() -> bool:
        return await a.hs.rooms.membership.membership_of(room_id, _bob) == "join"

    await eventually(joined_on_a, "Bob's join on A")
    return room_id, alice, alice_token, _bob, bob_token


async def test_typing_reaches_the_other_server(two_servers: tuple[FedServer, FedServer]) -> None:
    a, b = two_servers
    room_id, alice, alice_token, _bob, bob_token = await setup_room(a, b)
    status, _ = await a.request(
        "PUT", f"{V3}/rooms/{q(room_id)}/typing/{q(alice)}", alice_token,
        json={"typing": True, "timeout": 30000},
    )  # fmt: skip
    assert status == 200

    async def typing_on_b() -> bool:
        events = await ephemeral(b, bob_token, room_id, None)
        return any(e["type"] == "m.typing" and e["content"]["user_ids"] == [alice] for e in events)

    await eventually(typing_on_b, "Alice typing on B")

    status, _ = await a.request(
        "PUT", f"{V3}/rooms/{q(room_id)}/typing/{q(alice)}", alice_token, json={"typing": False}
    )
    assert status == 200

    async def stopped_on_b() -> bool:
        return b.hs.typing.users_typing(room_id) == []

    await eventually(stopped_on_b, "Alice stopped typing on B")
    # A remote user's typing is not echoed back: B queued nothing for A.
    assert await b.hs.federation_sender.outbox.destinations_with_pending() == []


async def test_public_receipt_reaches_the_other_server_private_does_not(
    two_servers: tuple[FedServer, FedServer],
) -> None:
    a, b = two_servers
    room_id, alice, alice_token, _bob, bob_token = await setup_room(a, b)
    status, answer = await b.request(
        "PUT", f"{V3}/rooms/{q(room_id)}/send/m.room.message/t1", bob_token,
        json={"msgtype": "m.text", "body": "hello"},
    )  # fmt: skip
    assert status == 200, answer
    event_id = answer["event_id"]

    async def on_a() -> bool:
        return await a.hs.rooms.events.get_event(event_id) is not None

    await eventually(on_a, "Bob's message on A")
    # A private receipt first: it must never reach B.
    status, _ = await a.request(
        "POST", f"{V3}/rooms/{q(room_id)}/receipt/m.read.private/{q(event_id)}", alice_token,
        json={},
    )  # fmt: skip
    assert status == 200
    status, _ = await a.request(
        "POST", f"{V3}/rooms/{q(room_id)}/receipt/m.read/{q(event_id)}", alice_token, json={}
    )
    assert status == 200

    async def receipt_on_b() -> bool:
        for e in await ephemeral(b, bob_token, room_id, None):
            if e["type"] == "m.receipt" and alice in e["content"].get(event_id, {}).get(
                "m.read", {}
            ):
                return True
        return False

    await eventually(receipt_on_b, "Alice's read receipt on B")
    for e in await ephemeral(b, bob_token, room_id, None):
        if e["type"] == "m.receipt":
            assert "m.read.private" not in e["content"].get(event_id, {})
    stored = await b.hs.receipts.store.since([room_id], 0)
    assert {(r.user_id, r.receipt_type) for r in stored} == {(alice, "m.read")}
