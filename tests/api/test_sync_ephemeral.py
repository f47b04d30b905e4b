"""/sync with typing, receipts, account data and unread counts: they appear in the right
sections, incremental syncs report changes once, and typing wakes a long-poll."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from test_sync import V3, create_room, do_sync, join, send

ServerHandle = Any


async def test_typing_wakes_long_poll(server: ServerHandle) -> None:
    alice, token, _ = await server.register("alice")
    room_id = await create_room(server, token)
    first = await do_sync(server, token)
    poll = asyncio.create_task(do_sync(server, token, first["next_batch"], timeout="20000"))
    await asyncio.sleep(0.2)
    status, body = await server.request(
        "PUT", f"{V3}/rooms/{room_id}/typing/{alice}", token,
        json={"typing": True, "timeout": 10000},
    )  # fmt: skip
    assert status == 200, body
    synced = await asyncio.wait_for(poll, 5)
    ephemeral = synced["rooms"]["join"][room_id]["ephemeral"]["events"]
    assert {"type": "m.typing", "content": {"user_ids": [alice]}} in ephemeral
    # Reported once; stopping is reported as an empty list.
    quiet = await do_sync(server, token, synced["next_batch"])
    assert quiet["rooms"]["join"] == {}
    await server.request(
        "PUT", f"{V3}/rooms/{room_id}/typing/{alice}", token, json={"typing": False}
    )
    stopped = await do_sync(server, token, quiet["next_batch"])
    ephemeral = stopped["rooms"]["join"][room_id]["ephemeral"]["events"]
    assert {"type": "m.typing", "content": {"user_ids": []}} in ephemeral


async def test_receipts_and_account_data(server: ServerHandle) -> None:
    alice, token, _ = await server.register("alice")
    bob, bob_token, _ = await server.register("bob")
    room_id = await create_room(server, token, preset="public_chat")
    await join(server, bob_token, room_id)
    first = await do_sync(server, token)
    event_id = await send(server, bob_token, room_id, "read me")
    status, body = await server.request(
        "POST", f"{V3}/rooms/{room_id}/receipt/m.read/{quote(event_id, safe='')}", bob_token,
        json={},
    )  # fmt: skip
    assert status == 200, body
    status, body = await server.request(
        "PUT", f"{V3}/user/{alice}/account_data/org.example.global", token, json={"a": 1}
    )
    assert status == 200, body
    status, body = await server.request(
        "PUT", f"{V3}/user/{alice}/rooms/{room_id}/account_data/org.example.room", token,
        json={"b": 2},
    )  # fmt: skip
    assert status == 200, body
    synced = await do_sync(server, token, first["next_batch"])
    assert {"type": "org.example.global", "content": {"a": 1}} in synced["account_data"]["events"]
    room = synced["rooms"]["join"][room_id]
    assert room["account_data"]["events"] == [{"type": "org.example.room", "content": {"b": 2}}]
    receipts = [e for e in room["ephemeral"]["events"] if e["type"] == "m.receipt"]
    assert receipts and bob in receipts[0]["content"][event_id]["m.read"]
    again = await do_sync(server, token, synced["next_batch"])
    assert again["account_data"]["events"] == [] and again["rooms"]["join"] == {}


async def test_unread_notifications(server: ServerHandle) -> None:
    _, token, _ = await server.register("alice")
    _, bob_token, _ = await server.register("bob")
    room_id = await create_room(server, token, preset="public_chat")
    await join(server, bob_token, room_id)
    for i in range(3):
        await send(server, bob_token, room_id, f"n{i}")
    synced = await do_sync(server, token)
    counts = synced["rooms"]["join"][room_id]["unread_notifications"]
    assert counts["notification_count"] == 3
