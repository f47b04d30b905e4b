"""A typing timeout running out, seen by long-polling clients on both servers.

Client-server API "Typing Notifications" (``timeout``: the user stops being shown as typing
after it) and "Syncing" (a long poll returns when something changes); server-server API
"Typing Notifications" (the other servers are told of the stop with ``typing: false``, so they
do not keep showing the user until their own fallback timeout).
"""

from __future__ import annotations

import asyncio
from typing import Any

from support.servers import eventually, q

from .conftest import FedServer
from .test_edus import V3, setup_room


async def long_poll_typing(
    server: FedServer, token: str, room_id: str, since: str, timeout_ms: int
) -> list[Any]:
    """The ``m.typing`` events of ``room_id`` in one long-polling /sync from ``since``."""
    params = {"timeout": str(timeout_ms), "since": since}
    status, answer = await server.request("GET", f"{V3}/sync", token, params=params)
    assert status == 200, answer
    room = answer.get("rooms", {}).get("join", {}).get(room_id, {})
    return [e for e in room.get("ephemeral", {}).get("events", []) if e["type"] == "m.typing"]


async def next_batch(server: FedServer, token: str) -> str:
    status, answer = await server.request("GET", f"{V3}/sync", token, params={"timeout": "0"})
    assert status == 200, answer
    return str(answer["next_batch"])


async def test_typing_timeout_reaches_long_polls_here_and_on_the_other_server(
    two_servers: tuple[FedServer, FedServer],
) -> None:
    a, b = two_servers
    room_id, alice, alice_token, _bob, bob_token = await setup_room(a, b)
    status, _ = await a.request(
        "PUT", f"{V3}/rooms/{q(room_id)}/typing/{q(alice)}", alice_token,
        json={"typing": True, "timeout": 1500},
    )  # fmt: skip
    assert status == 200

    async def typing_on_b() -> bool:
        return b.hs.typing.users_typing(room_id) == [alice]

    await eventually(typing_on_b, "Alice typing on B")
    # Both clients are up to date (Alice typing) and long-poll for what comes next.
    since_a = await next_batch(a, alice_token)
    since_b = await next_batch(b, bob_token)
    loop = asyncio.get_running_loop()
    started = loop.time()
    # B's fallback for a remote user is 30 s: well past these polls unless A says stop.
    on_a, on_b = await asyncio.gather(
        long_poll_typing(a, alice_token, room_id, since_a, 10_000),
        long_poll_typing(b, bob_token, room_id, since_b, 10_000),
    )
    stopped = [{"type": "m.typing", "content": {"user_ids": []}}]
    assert on_a == stopped
    assert on_b == stopped
    assert loop.time() - started < 10
    assert a.hs.typing.users_typing(room_id) == [] and b.hs.typing.users_typing(room_id) == []
