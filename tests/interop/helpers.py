"""Client-Server API steps shared by the interop tests, valid against any homeserver.

Spec: Client-Server API "Creating rooms", "Joining rooms", "Room membership", "Sending events to
a room", "Getting events for a room" (``/messages``), "Knocking on rooms".
"""

from __future__ import annotations

import secrets
from typing import Any

from support.servers import q

from .conftest import Peer, SynapseClient, TransomPeer

DIRECTIONS = ["synapse-hosts", "transom-hosts"]


def host_and_guest(direction: str, peers: tuple[SynapseClient, TransomPeer]) -> tuple[Peer, Peer]:
    """(server that creates the room, server whose user joins or knocks from outside)."""
    synapse, transom = peers
    return (synapse, transom) if direction == "synapse-hosts" else (transom, synapse)


async def create_room(peer: Peer, token: str, **body: Any) -> str:
    status, answer = await peer.request("POST", "/_matrix/client/v3/createRoom", token, json=body)
    assert status == 200, (peer.name, answer)
    room_id: str = answer["room_id"]
    return room_id


async def send_text(peer: Peer, token: str, room_id: str, text: str) -> str:
    status, answer = await peer.request(
        "PUT", f"/_matrix/client/v3/rooms/{q(room_id)}/send/m.room.message/t{secrets.token_hex(8)}",
        token,
        json={"msgtype": "m.text", "body": text},
    )  # fmt: skip
    assert status == 200, (peer.name, answer)
    event_id: str = answer["event_id"]
    return event_id


async def put_state(
    peer: Peer, token: str, room_id: str, event_type: str, content: dict[str, Any], key: str = ""
) -> tuple[int, Any]:
    return await peer.request(
        "PUT", f"/_matrix/client/v3/rooms/{q(room_id)}/state/{q(event_type)}/{q(key)}", token,
        json=content,
    )  # fmt: skip


async def get_state(
    peer: Peer, token: str, room_id: str, event_type: str, key: str = ""
) -> dict[str, Any] | None:
    status, body = await peer.request(
        "GET", f"/_matrix/client/v3/rooms/{q(room_id)}/state/{q(event_type)}/{q(key)}", token
    )
    return body if status == 200 else None


async def membership(peer: Peer, token: str, room_id: str, user_id: str) -> str | None:
    """``user_id``'s membership as the room state on ``peer`` shows it to ``token``'s user."""
    content = await get_state(peer, token, room_id, "m.room.member", user_id)
    return None if content is None else content.get("membership")


async def join(
    peer: Peer, token: str, target: str, via: list[str] | None = None
) -> tuple[int, Any]:
    params = [("via", server) for server in via or []]
    return await peer.request(
        "POST", f"/_matrix/client/v3/join/{q(target)}", token, json={}, params=params
    )


async def knock(
    peer: Peer, token: str, target: str, via: list[str] | None = None, reason: str | None = None
) -> tuple[int, Any]:
    params = [("via", server) for server in via or []]
    body = {} if reason is None else {"reason": reason}
    return await peer.request(
        "POST", f"/_matrix/client/v3/knock/{q(target)}", token, json=body, params=params
    )


async def room_action(
    peer: Peer, token: str, room_id: str, action: str, **body: Any
) -> tuple[int, Any]:
    """``POST /rooms/{roomId}/{invite|kick|ban|unban|leave|forget}``."""
    return await peer.request(
        "POST", f"/_matrix/client/v3/rooms/{q(room_id)}/{action}", token, json=body
    )


async def joined_rooms(peer: Peer, token: str) -> list[str]:
    status, body = await peer.request("GET", "/_matrix/client/v3/joined_rooms", token)
    assert status == 200, body
    rooms: list[str] = body["joined_rooms"]
    return rooms


async def sync_section(peer: Peer, token: str, section: str) -> dict[str, Any]:
    """``rooms.<section>`` of an initial ``/sync`` (``join``, ``invite``, ``knock``, ``leave``)."""
    status, body = await peer.request(
        "GET", "/_matrix/client/v3/sync", token, params={"timeout": "0"}
    )
    assert status == 200, body
    rooms: dict[str, Any] = body.get("rooms", {}).get(section, {})
    return rooms
