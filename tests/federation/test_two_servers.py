"""Two Transom servers federating over TLS on loopback: joins, invites, leaves, messages both
ways, history, concurrent state, ACLs, room versions and a restart with a queued backlog.

Server-server API "Joining Rooms", "Inviting to a room", "Leaving Rooms (Rejecting Invites)",
"Transactions", "Server Access Control Lists"; client-server API "Joining rooms".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from support.servers import bodies, eventually, has_bodies, q
from transom.app import start

from .conftest import FedServer, fed_config, free_port

FAST_RETRY = {"min_interval_ms": 50, "max_interval_ms": 200, "multiplier": 2}


async def create_room(server: FedServer, token: str, **body: Any) -> str:
    status, answer = await server.request("POST", "/_matrix/client/v3/createRoom", token, json=body)
    assert status == 200, answer
    room_id: str = answer["room_id"]
    return room_id


async def send_text(server: FedServer, token: str, room_id: str, text: str) -> str:
    status, answer = await server.request(
        "PUT", f"/_matrix/client/v3/rooms/{q(room_id)}/send/m.room.message/t{text}", token,
        json={"msgtype": "m.text", "body": text},
    )  # fmt: skip
    assert status == 200, answer
    event_id: str = answer["event_id"]
    return event_id


async def membership(server: FedServer, room_id: str, user_id: str) -> str | None:
    result: str | None = await server.hs.rooms.membership.membership_of(room_id, user_id)
    return result


async def join(server: FedServer, token: str, target: str, via: list[str]) -> tuple[int, Any]:
    return await server.request(
        "POST", f"/_matrix/client/v3/join/{q(target)}", token, json={},
        params={"via": via[0]} if via else None,
    )  # fmt: skip


async def test_join_by_id_then_messages_and_state_both_ways(
    two_servers: tuple[FedServer, FedServer],
) -> None:
    a, b = two_servers
    _alice, alice_token, _ = await a.register("alice")
    bob, bob_token, _ = await b.register("bob")
    room_id = await create_room(a, alice_token, preset="public_chat", room_version="10")
    await send_text(a, alice_token, room_id, "before-join")

    status, answer = await join(b, bob_token, room_id, [a.server_name])
    assert status == 200, answer
    assert answer["room_id"] == room_id
    # Both servers see Bob joined.
    assert await membership(b, room_id, bob) == "join"

    async def joined_on_a() -> bool:
        return await membership(a, room_id, bob) == "join"

    await eventually(joined_on_a, "the join on A")

    await send_text(b, bob_token, room_id, "from-b")
    await send_text(a, alice_token, room_id, "from-a")
    await eventually(lambda: has_bodies(a, alice_token, room_id, ["from-b"]), "B's message on A")
    await eventually(lambda: has_bodies(b, bob_token, room_id, ["from-a"]), "A's message on B")
    # History after the join, in order, through /messages on both sides.
    assert [t for t in await bodies(b, bob_token, room_id) if t.startswith("from")] == [
        "from-b",
        "from-a",
    ]
    assert (await bodies(a, alice_token, room_id))[0] == "before-join"

    status, _ = await a.request(
        "PUT", f"/_matrix/client/v3/rooms/{q(room_id)}/state/m.room.name", alice_token,
        json={"name": "Shared"},
    )  # fmt: skip
    assert status == 200

    async def name_on_b() -> bool:
        status, body = await b.request(
            "GET", f"/_matrix/client/v3/rooms/{q(room_id)}/state/m.room.name", bob_token
        )
        return status == 200 and body.get("name") == "Shared"

    await eventually(name_on_b, "the room name on B")


async def test_join_by_remote_alias_and_leave(two_servers: tuple[FedServer, FedServer]) -> None:
    a, b = two_servers
    _, alice_token, _ = await a.register("alice")
    bob, bob_token, _ = await b.register("bob")
    room_id = await create_room(
        a, alice_token, preset="public_chat", room_alias_name="lobby", room_version="12"
    )
    alias = f"#lobby:{a.server_name}"
    status, answer = await join(b, bob_token, alias, [])
    assert status == 200, answer
    assert answer["room_id"] == room_id
    assert await membership(b, room_id, bob) == "join"

    status, _ = await b.request(
        "POST", f"/_matrix/client/v3/rooms/{q(room_id)}/leave", bob_token, json={}
    )
    assert status == 200

    async def left_on_a() -> bool:
        return await membership(a, room_id, bob) == "leave"

    await eventually(left_on_a, "the leave on A")


async def test_invite_remote_user_who_joins(two_servers: tuple[FedServer, FedServer]) -> None:
    a, b = two_servers
    _alice, alice_token, _ = await a.register("alice")
    bob, bob_token, _ = await b.register("bob")
    room_id = await create_room(a, alice_token, preset="private_chat", room_version="11")
    status, answer = await a.request(
        "POST", f"/_matrix/client/v3/rooms/{q(room_id)}/invite", alice_token,
        json={"user_id": bob},
    )  # fmt: skip
    assert status == 200, answer
    assert await membership(a, room_id, bob) == "invite"
    # The invite carries both servers' signatures.
    invite_id = (await a.hs.rooms.state.get_current_state_ids(room_id))[("m.room.member", bob)]
    invite = await a.hs.rooms.events.get_event(invite_id)
    assert invite is not None and set(invite.signatures) == {a.server_name, b.server_name}
    # B shows the invite out of band, with stripped state including the create event.
    local = await b.hs.rooms.state.get_local_membership(bob, room_id)
    assert local is not None and local.membership == "invite" and local.outofband
    assert any(e["type"] == "m.room.create" for e in local.stripped_state or [])

    # An invite-only room: joining works through the inviting server.
    status, answer = await b.request(
        "POST", f"/_matrix/client/v3/rooms/{q(room_id)}/join", bob_token, json={}
    )
    assert status == 200, answer

    async def joined_on_a() -> bool:
        return await membership(a, room_id, bob) == "join"

    await eventually(joined_on_a, "the join on A")


async def test_reject_remote_invite(two_servers: tuple[FedServer, FedServer]) -> None:
    a, b = two_servers
    _, alice_token, _ = await a.register("alice")
    bob, bob_token, _ = await b.register("bob")
    room_id = await create_room(a, alice_token, preset="private_chat", room_version="10")
    status, _ = await a.request(
        "POST", f"/_matrix/client/v3/rooms/{q(room_id)}/invite", alice_token,
        json={"user_id": bob},
    )  # fmt: skip
    assert status == 200
    status, answer = await b.request(
        "POST", f"/_matrix/client/v3/rooms/{q(room_id)}/leave", bob_token, json={}
    )
    assert status == 200, answer
    # A received the rejection through send_leave; B moved the room out of its invites.
    assert await membership(a, room_id, bob) == "leave"
    local = await b.hs.rooms.state.get_local_membership(bob, room_id)
    assert local is not None and local.membership == "leave"


async def test_concurrent_topic_changes_converge(two_servers: tuple[FedServer, FedServer]) -> None:
    a, b = two_servers
    _, alice_token, _ = await a.register("alice")
    bob, bob_token, _ = await b.register("bob")
    room_id = await create_room(
        a, alice_token, preset="public_chat", room_version="10",
        power_level_content_override={"state_default": 0},
    )  # fmt: skip
    status, answer = await join(b, bob_token, room_id, [a.server_name])
    assert status == 200, answer

    async def joined_on_a() -> bool:
        return await membership(a, room_id, bob) == "join"

    await eventually(joined_on_a, "the join on A")

    async def set_topic(server: FedServer, token: str, topic: str) -> None:
        status, body = await server.request(
            "PUT", f"/_matrix/client/v3/rooms/{q(room_id)}/state/m.room.topic", token,
            json={"topic": topic},
        )  # fmt: skip
        assert status == 200, body

    await asyncio.gather(set_topic(a, alice_token, "from A"), set_topic(b, bob_token, "from B"))

    async def topic(server: FedServer) -> str | None:
        state = await server.hs.rooms.state.get_current_state_ids(room_id)
        event_id = state.get(("m.room.topic", ""))
        event = await server.hs.rooms.events.get_event(event_id) if event_id else None
        return event.content.get("topic") if event else None

    async def converged() -> bool:
        # Each side must have the other's topic event before states can agree.
        ta, tb = await topic(a), await topic(b)
        return ta == tb and ta is not None

    # Messages after the fork make each server merge the two branches.
    await send_text(a, alice_token, room_id, "merge-a")
    await send_text(b, bob_token, room_id, "merge-b")
    await eventually(converged, "the same topic on both servers")


async def test_make_join_refusals(two_servers: tuple[FedServer, FedServer]) -> None:
    a, b = two_servers
    _, alice_token, _ = await a.register("alice")
    room_id = await create_room(a, alice_token, preset="public_chat", room_version="10")
    client = b.hs.federation_client
    user = f"@carol:{b.server_name}"
    path = f"/_matrix/federation/v1/make_join/{q(room_id)}/{q(user)}"
    # A room version B does not offer: 400 M_INCOMPATIBLE_ROOM_VERSION naming the version.
    try:
        await client.get_json(a.server_name, path, query={"ver": ["1", "2"]})
        raise AssertionError("make_join accepted an unsupported version")
    except Exception as exc:
        assert getattr(exc, "status", None) == 400
        assert exc.body["errcode"] == "M_INCOMPATIBLE_ROOM_VERSION"  # type: ignore[attr-defined]
        assert exc.body["room_version"] == "10"  # type: ignore[attr-defined]
    template = await client.get_json(a.server_name, path, query={"ver": ["10"]})
    assert template["room_version"] == "10"
    assert template["event"]["content"]["membership"] == "join"
    # After an ACL denying B, make_join is 403.
    status, _ = await a.request(
        "PUT", f"/_matrix/client/v3/rooms/{q(room_id)}/state/m.room.server_acl", alice_token,
        json={"allow": ["*"], "deny": ["127.0.0.1"], "allow_ip_literals": True},
    )  # fmt: skip
    assert status == 200
    try:
        await client.get_json(a.server_name, path, query={"ver": ["10"]})
        raise AssertionError("make_join accepted an ACL-denied server")
    except Exception as exc:
        assert getattr(exc, "status", None) == 403


async def test_queued_events_survive_a_restart(
    make_store_config: Callable[[str], tuple[str, dict[str, Any]]], tmp_path: Path
) -> None:
    port_a, port_b = free_port(), free_port()
    store_a, store_b = make_store_config("a"), make_store_config("b")
    config_a = fed_config(tmp_path / "a", *store_a, port_a, federation_retry=FAST_RETRY)
    config_b = fed_config(tmp_path / "b", *store_b, port_b, federation_retry=FAST_RETRY)
    session = aiohttp.ClientSession()
    servers: list[FedServer] = []
    try:
        a = FedServer(await start(config_a), session)
        b = FedServer(await start(config_b), session)
        servers = [a, b]
        _, alice_token, _ = await a.register("alice")
        _bob, bob_token, _ = await b.register("bob")
        room_id = await create_room(a, alice_token, preset="public_chat", room_version="10")
        status, answer = await join(b, bob_token, room_id, [a.server_name])
        assert status == 200, answer

        await b.running.stop()
        servers = [a]
        for text in ("queued-1", "queued-2"):
            await send_text(a, alice_token, room_id, text)
        outbox = a.hs.federation_sender.outbox

        async def queued() -> bool:
            return await outbox.count(b.server_name) >= 2

        await eventually(queued, "A's queue for B")
        await a.running.stop()
        servers = []

        a = FedServer(await start(config_a), session)
        servers = [a]
        b = FedServer(await start(config_b), session)
        servers = [a, b]
        await eventually(
            lambda: has_bodies(b, bob_token, room_id, ["queued-1", "queued-2"]),
            "the queued messages on B",
        )
        assert await a.hs.federation_sender.outbox.count(b.server_name) == 0
    finally:
        for server in servers:
            await server.running.stop()
        await session.close()
