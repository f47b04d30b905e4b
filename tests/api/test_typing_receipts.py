"""Typing, receipts and read markers over the client-server API ("Typing Notifications",
"Receipts", "Fully read markers")."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

ServerHandle = Any
V3 = "/_matrix/client/v3"


async def setup_room(server: ServerHandle) -> tuple[str, str, str, str, str]:
    alice, a_tok, _ = await server.register("alice")
    bob, b_tok, _ = await server.register("bob")
    status, body = await server.request(
        "POST", f"{V3}/createRoom", a_tok, json={"preset": "public_chat"}
    )
    assert status == 200, body
    room = body["room_id"]
    status, body = await server.request("POST", f"{V3}/join/{quote(room)}", b_tok, json={})
    assert status == 200, body
    return room, alice, a_tok, bob, b_tok


async def send(server: ServerHandle, room: str, token: str, txn: str, **extra: Any) -> str:
    status, body = await server.request(
        "PUT", f"{V3}/rooms/{room}/send/m.room.message/{txn}", token,
        json={"msgtype": "m.text", "body": "hello", **extra},
    )  # fmt: skip
    assert status == 200, body
    return str(body["event_id"])


def receipt_path(room: str, receipt_type: str, event_id: str) -> str:
    return f"{V3}/rooms/{room}/receipt/{receipt_type}/{quote(event_id, safe='')}"


async def test_typing_start_stop_and_expiry(server: ServerHandle) -> None:
    room, alice, a_tok, _, _ = await setup_room(server)
    changes: list[int] = []
    server.hs.typing.on_change(lambda: changes.append(server.hs.typing.serial))
    path = f"{V3}/rooms/{room}/typing/{quote(alice)}"
    status, body = await server.request("PUT", path, a_tok, json={"typing": True, "timeout": 50})
    assert (status, body) == (200, {})
    assert server.hs.typing.users_typing(room) == [alice]
    # Expiry removes the user and wakes listeners.
    for _ in range(100):
        if not server.hs.typing.users_typing(room):
            break
        await asyncio.sleep(0.02)
    assert server.hs.typing.users_typing(room) == []
    assert len(changes) == 2
    await server.request("PUT", path, a_tok, json={"typing": True})
    assert server.hs.typing.users_typing(room) == [alice]
    status, _ = await server.request("PUT", path, a_tok, json={"typing": False})
    assert status == 200 and server.hs.typing.users_typing(room) == []


async def test_typing_errors(server: ServerHandle) -> None:
    room, alice, _, bob, b_tok = await setup_room(server)
    _, c_tok, _ = await server.register("carol")
    status, body = await server.request(
        "PUT", f"{V3}/rooms/{room}/typing/{quote(alice)}", b_tok, json={"typing": True}
    )
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    carol = f"@carol:{server.server_name}"
    status, body = await server.request(
        "PUT", f"{V3}/rooms/{room}/typing/{quote(carol)}", c_tok, json={"typing": True}
    )
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = await server.request(
        "PUT", f"{V3}/rooms/{room}/typing/{quote(bob)}", b_tok, json={"typing": "yes"}
    )
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = await server.request(
        "PUT", f"{V3}/rooms/{room}/typing/{quote(bob)}", b_tok, json={}
    )
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")


async def test_receipts_public_private_and_threaded(server: ServerHandle) -> None:
    room, alice, a_tok, bob, b_tok = await setup_room(server)
    event = await send(server, room, a_tok, "1")
    before = server.hs.rooms.streams.current
    status, body = await server.request("POST", receipt_path(room, "m.read", event), b_tok, json={})
    assert (status, body) == (200, {})
    status, _ = await server.request(
        "POST", receipt_path(room, "m.read.private", event), a_tok, json={}
    )
    assert status == 200
    status, _ = await server.request(
        "POST", receipt_path(room, "m.read", event), a_tok, json={"thread_id": "main"}
    )
    assert status == 200
    assert server.hs.rooms.streams.current == before + 3
    seen_by_bob = await server.hs.receipts.receipt_events(bob, [room], before)
    content = seen_by_bob[room][event]
    assert set(content) == {"m.read"}
    assert content["m.read"][alice]["thread_id"] == "main"
    assert "thread_id" not in content["m.read"][bob]
    assert isinstance(content["m.read"][bob]["ts"], int)
    seen_by_alice = await server.hs.receipts.receipt_events(alice, [room], before)
    assert alice in seen_by_alice[room][event]["m.read.private"]
    # Nothing new after the latest position.
    assert await server.hs.receipts.receipt_events(bob, [room], before + 3) == {}


async def test_receipt_errors(server: ServerHandle) -> None:
    room, _, a_tok, _, b_tok = await setup_room(server)
    event = await send(server, room, a_tok, "1")
    for thread_id in ("", 5):
        status, body = await server.request(
            "POST", receipt_path(room, "m.read", event), b_tok, json={"thread_id": thread_id}
        )
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await server.request(
        "POST", receipt_path(room, "m.fully_read", event), b_tok, json={"thread_id": "main"}
    )
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await server.request(
        "POST", receipt_path(room, "m.bogus", event), b_tok, json={}
    )
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await server.request(
        "POST", receipt_path(room, "m.read", "$missing:x"), b_tok, json={}
    )
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    _, c_tok, _ = await server.register("carol")
    status, body = await server.request("POST", receipt_path(room, "m.read", event), c_tok, json={})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")


async def test_read_markers_and_fully_read_receipt(server: ServerHandle) -> None:
    room, _, a_tok, bob, b_tok = await setup_room(server)
    first = await send(server, room, a_tok, "1")
    second = await send(server, room, a_tok, "2")
    assert await server.hs.push.unread_counts(bob, room) == (2, 0)
    status, body = await server.request(
        "POST", f"{V3}/rooms/{room}/read_markers", b_tok,
        json={"m.fully_read": first, "m.read": first},
    )  # fmt: skip
    assert (status, body) == (200, {})
    assert await server.hs.push.unread_counts(bob, room) == (1, 0)
    path = f"{V3}/user/{quote(bob)}/rooms/{room}/account_data/m.fully_read"
    status, body = await server.request("GET", path, b_tok)
    assert (status, body) == (200, {"event_id": first})
    status, _ = await server.request(
        "POST", receipt_path(room, "m.fully_read", second), b_tok, json={}
    )
    assert status == 200
    status, body = await server.request("GET", path, b_tok)
    assert body == {"event_id": second}
    # m.fully_read never shows up as a receipt.
    receipts = await server.hs.receipts.receipt_events(bob, [room], 0)
    assert all("m.fully_read" not in by_type for by_type in receipts[room].values())
    status, _ = await server.request(
        "POST", f"{V3}/rooms/{room}/read_markers", b_tok, json={"m.read.private": second}
    )
    assert status == 200
    assert await server.hs.push.unread_counts(bob, room) == (0, 0)
    status, body = await server.request(
        "POST", f"{V3}/rooms/{room}/read_markers", b_tok, json={"m.fully_read": "$nope:x"}
    )
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
