"""Knocking between Transom servers over TLS on loopback: A holds the room, B's user knocks.

Server-server API "Knocking upon a room" (make_knock/send_knock, room versions 7+,
``knock_restricted`` 10+), "Inviting to a room", "Joining Rooms", "Leaving Rooms (Rejecting
Invites)" (rescinding); client-server API "Knocking on rooms" and ``/sync`` ``rooms.knock``.
Beyond the spec: the rescind reaches the room, and a kick or ban reaches the knocker's server.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import FedServer, MakeFedServer
from .test_two_servers import create_room, eventually, membership, q

V3 = "/_matrix/client/v3"


def knock_rules(rule: str = "knock") -> list[dict[str, Any]]:
    return [{"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": rule}}]


async def knock(
    server: FedServer, token: str, target: str, via: list[str], reason: str | None = None
) -> tuple[int, Any]:
    body = {} if reason is None else {"reason": reason}
    params = [("via", v) for v in via]
    return await server.request(
        "POST",
        f"{V3}/knock/{q(target)}",
        token,
        json=body,
        params=params or None,  # type: ignore[arg-type]
    )


async def act(server: FedServer, token: str, room_id: str, what: str, **body: Any) -> None:
    status, answer = await server.request(
        "POST", f"{V3}/rooms/{q(room_id)}/{what}", token, json=body
    )
    assert status == 200, answer


async def sync_rooms(server: FedServer, token: str, since: str | None = None) -> dict[str, Any]:
    """The ``rooms`` of a /sync (incremental from ``since``), with ``next_batch`` added."""
    params = {"timeout": "0", **({"since": since} if since else {})}
    status, body = await server.request("GET", f"{V3}/sync", token, params=params)
    assert status == 200, body
    rooms: dict[str, Any] = body.get("rooms", {})
    rooms["next_batch"] = body["next_batch"]
    return rooms


async def until_membership(server: FedServer, room_id: str, user: str, wanted: str) -> None:
    async def check() -> bool:
        return await membership(server, room_id, user) == wanted

    await eventually(check, f"{user} {wanted} on {server.server_name}")


async def until_local(server: FedServer, user: str, room_id: str, wanted: str) -> None:
    async def check() -> bool:
        local = await server.hs.rooms.state.get_local_membership(user, room_id)
        return local is not None and local.membership == wanted

    await eventually(check, f"{user}'s {wanted} recorded on {server.server_name}")


async def knocked(a: FedServer, b: FedServer, version: str) -> tuple[str, str, str, str]:
    """Alice of A makes a private knock room, Bob of B knocks through A (200):
    ``(alice_token, bob, bob_token, room_id)``."""
    _, alice_token, _ = await a.register("alice")
    bob, bob_token, _ = await b.register("bob")
    room_id = await create_room(
        a, alice_token, preset="private_chat", room_version=version, initial_state=knock_rules()
    )
    status, _ = await knock(b, bob_token, room_id, [a.server_name])
    assert status == 200
    return alice_token, bob, bob_token, room_id


@pytest.mark.parametrize("version", ["7", "10", "12"])
async def test_knock_accept_invite_join(
    two_servers: tuple[FedServer, FedServer], version: str
) -> None:
    a, b = two_servers
    alice, alice_token, _ = await a.register("alice")
    bob, bob_token, _ = await b.register("bob")
    room_id = await create_room(
        a, alice_token, preset="private_chat", room_version=version,
        initial_state=knock_rules(), name="Knock here",
    )  # fmt: skip

    status, answer = await knock(b, bob_token, room_id, [a.server_name], "let me in")
    assert (status, answer) == (200, {"room_id": room_id})
    # The room's server has the knock in the room, with the reason and B's signature.
    assert await membership(a, room_id, bob) == "knock"
    knock_id = (await a.hs.rooms.state.get_current_state_ids(room_id))[("m.room.member", bob)]
    knock_event = await a.hs.rooms.events.get_event(knock_id)
    assert knock_event is not None and knock_event.content["reason"] == "let me in"
    assert b.server_name in knock_event.signatures
    # B keeps it out of band, through A, with the knock stored as an outlier.
    local = await b.hs.rooms.state.get_local_membership(bob, room_id)
    assert local is not None and (local.membership, local.outofband) == ("knock", True)
    assert local.via_server == a.server_name and local.event_id == knock_id
    stored = (await b.hs.rooms.events.get_stored([knock_id]))[knock_id]
    assert stored.outlier
    # /sync: rooms.knock with the verified stripped state (create first), the knock last.
    events = (await sync_rooms(b, bob_token))["knock"][room_id]["knock_state"]["events"]
    assert events[0]["type"] == "m.room.create"
    assert {"m.room.name", "m.room.join_rules"} <= {e["type"] for e in events}
    assert events[-1]["type"] == "m.room.member" and events[-1]["state_key"] == bob
    assert events[-1]["content"]["membership"] == "knock"
    assert all(set(e) == {"type", "state_key", "sender", "content"} for e in events)

    # Accept: the invite reaches B through the invite endpoint; B then joins through A.
    await act(a, alice_token, room_id, "invite", user_id=bob)
    await until_local(b, bob, room_id, "invite")
    assert room_id in (await sync_rooms(b, bob_token)).get("invite", {})
    await act(b, bob_token, room_id, "join")
    await until_membership(a, room_id, bob, "join")
    assert await membership(b, room_id, bob) == "join"
    assert alice in {m async for m in _joined(b, room_id)}


async def _joined(server: FedServer, room_id: str) -> Any:
    for key, event_id in (await server.hs.rooms.state.get_current_state_ids(room_id)).items():
        if key[0] == "m.room.member":
            event = await server.hs.rooms.events.get_event(event_id)
            if event is not None and event.membership == "join":
                yield key[1]


async def test_knock_by_alias(two_servers: tuple[FedServer, FedServer]) -> None:
    a, b = two_servers
    _, alice_token, _ = await a.register("alice")
    bob, bob_token, _ = await b.register("bob")
    room_id = await create_room(
        a, alice_token, preset="private_chat", room_version="12", room_alias_name="door",
        initial_state=knock_rules("knock_restricted"),
    )  # fmt: skip
    # No `via`: the alias's directory server names the servers to try.
    status, answer = await knock(b, bob_token, f"#door:{a.server_name}", [])
    assert (status, answer) == (200, {"room_id": room_id})
    assert await membership(a, room_id, bob) == "knock"


@pytest.mark.parametrize("how", ["kick", "ban"])
async def test_rejection_reaches_the_knocker(
    two_servers: tuple[FedServer, FedServer], how: str
) -> None:
    a, b = two_servers
    alice_token, bob, bob_token, room_id = await knocked(a, b, "10")
    since = (await sync_rooms(b, bob_token))["next_batch"]
    await act(a, alice_token, room_id, how, user_id=bob, reason="no")
    wanted = "leave" if how == "kick" else how
    # Delivered rejection: B accepts the signed kick/ban of its user's pending knock.
    await until_local(b, bob, room_id, wanted)
    local = await b.hs.rooms.state.get_local_membership(bob, room_id)
    assert local is not None and local.outofband
    rooms = await sync_rooms(b, bob_token, since)
    assert room_id in rooms.get("leave", {}) and room_id not in rooms.get("knock", {})

    status, answer = await knock(b, bob_token, room_id, [a.server_name], "again")
    if how == "kick":  # knocking again after a rejection
        assert (status, answer) == (200, {"room_id": room_id})
        assert await membership(a, room_id, bob) == "knock"
        await until_local(b, bob, room_id, "knock")
    else:  # banned: the room's server refuses the template
        assert (status, answer["errcode"]) == (403, "M_FORBIDDEN")


async def test_rescind_reaches_the_room(two_servers: tuple[FedServer, FedServer]) -> None:
    a, b = two_servers
    _, bob, bob_token, room_id = await knocked(a, b, "12")
    await act(b, bob_token, room_id, "leave", reason="never mind")
    # Federated rescind: make_leave/send_leave through the server knocked through.
    assert await membership(a, room_id, bob) == "leave"
    local = await b.hs.rooms.state.get_local_membership(bob, room_id)
    assert local is not None and local.membership == "leave"
    status, _ = await knock(b, bob_token, room_id, [a.server_name])
    assert status == 200
    assert await membership(a, room_id, bob) == "knock"


async def test_refusals(two_servers: tuple[FedServer, FedServer]) -> None:
    a, b = two_servers
    _, alice_token, _ = await a.register("alice")
    bob, bob_token, _ = await b.register("bob")
    invite_only = await create_room(a, alice_token, preset="private_chat", room_version="10")
    status, answer = await knock(b, bob_token, invite_only, [a.server_name])
    assert (status, answer["errcode"]) == (403, "M_FORBIDDEN"), answer
    room_id = await create_room(
        a, alice_token, preset="private_chat", room_version="10", initial_state=knock_rules()
    )
    await act(a, alice_token, room_id, "ban", user_id=bob)
    status, answer = await knock(b, bob_token, room_id, [a.server_name])
    assert (status, answer["errcode"]) == (403, "M_FORBIDDEN"), answer
    # Nothing was recorded on either side.
    assert await b.hs.rooms.state.get_local_membership(bob, invite_only) is None
    assert await membership(a, invite_only, bob) is None
    assert await membership(a, room_id, bob) == "ban"


async def test_other_resident_servers_receive_the_knock(make_fed_server: MakeFedServer) -> None:
    a, b, c = await make_fed_server(), await make_fed_server(), await make_fed_server()
    _, alice_token, _ = await a.register("alice")
    bob, bob_token, _ = await b.register("bob")
    carol, carol_token, _ = await c.register("carol")
    room_id = await create_room(
        a, alice_token, preset="private_chat", room_version="12", initial_state=knock_rules()
    )
    await act(a, alice_token, room_id, "invite", user_id=carol)
    await until_local(c, carol, room_id, "invite")
    await act(c, carol_token, room_id, "join")
    await until_membership(a, room_id, carol, "join")

    status, _ = await knock(b, bob_token, room_id, [a.server_name])
    assert status == 200
    # C, also in the room, gets the knock from A (send_knock forwards it before answering).
    await until_membership(c, room_id, bob, "knock")


async def test_rescind_when_the_room_server_is_down(
    two_servers: tuple[FedServer, FedServer],
) -> None:
    a, b = two_servers
    _, bob, bob_token, room_id = await knocked(a, b, "10")
    await a.stop()
    # No server can take the leave: it is recorded locally (and logged), the client succeeds.
    await act(b, bob_token, room_id, "leave")
    local = await b.hs.rooms.state.get_local_membership(bob, room_id)
    assert local is not None and (local.membership, local.outofband) == ("leave", True)


async def test_deactivation_rescinds_remote_knocks(
    two_servers: tuple[FedServer, FedServer],
) -> None:
    a, b = two_servers
    _, bob, bob_token, room_id = await knocked(a, b, "12")
    auth = {"type": "m.login.password", "password": "pw",
            "identifier": {"type": "m.id.user", "user": "bob"}}  # fmt: skip
    status, answer = await b.request(
        "POST", f"{V3}/account/deactivate", bob_token, json={"auth": auth}
    )
    assert status == 200, answer
    assert await membership(a, room_id, bob) == "leave"
