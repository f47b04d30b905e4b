"""Knock phases: local knocks and the federated knock round trip.

Spec: Client-Server API "Knocking on rooms" (``POST /knock/{roomIdOrAlias}``), room versions 7+
(knocking) in rooms whose ``m.room.join_rules`` is ``knock``; Server-Server API "Knocking upon a
room" (``make_knock`` / ``send_knock``) for a room on another server.
"""

from __future__ import annotations

from bench.load import q
from bench.phases.base import (
    Context,
    Phase,
    User,
    create_room,
    ensure_users,
    gather_limited,
    register,
)

# Room versions 7+: join rule "knock" (spec "Room Versions", v7 adds knocking).
KNOCK_ROOM = {
    "preset": "private_chat",
    "initial_state": [
        {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}
    ],
}


def _pairs(count: int, users: int, rooms: int) -> list[tuple[int, int]]:
    """Distinct (user, room) index pairs: knock i is user i % users into room (i // users) % rooms.

    Distinct as long as count <= users * rooms.
    """
    return [(i % users, (i // users) % rooms) for i in range(count)]


class Knock(Phase):
    name = "knock"
    description = "N knocks on distinct (user, room) pairs into R rooms with join_rule knock"

    def count(self, ctx: Context) -> int:
        return ctx.settings.knocks

    async def prepare(self, ctx: Context) -> None:
        settings = ctx.settings
        rooms_wanted = max(1, settings.knock_rooms)
        knockers = max(1, -(-settings.knocks // rooms_wanted))  # ceil
        owner = await register(ctx.client, ctx.next_localpart("owner"), settings.password)
        rooms = await gather_limited(
            settings.concurrency,
            [create_room(ctx.client, owner, KNOCK_ROOM) for _ in range(rooms_wanted)],
        )
        users = await ensure_users(ctx, knockers)
        ctx.scratch["knock_rooms"] = rooms
        ctx.scratch["knock_pairs"] = [
            (users[u], rooms[r]) for u, r in _pairs(settings.knocks, len(users), len(rooms))
        ]

    async def operation(self, ctx: Context, index: int) -> None:
        pairs = ctx.scratch["knock_pairs"]
        assert isinstance(pairs, list)
        user, room_id = pairs[index]
        assert isinstance(user, User)
        path = f"/_matrix/client/v3/knock/{q(room_id)}"
        await ctx.client.request("POST", path, {"reason": "bench"}, user.token)


class FederatedKnock(Phase):
    name = "federated_knock"
    description = (
        "N knocks by users of the target into rooms on a peer homeserver (make_knock + send_knock "
        "round trip, timed at the target's POST /knock)"
    )
    needs_peer = True

    def count(self, ctx: Context) -> int:
        return ctx.settings.federated_knocks

    async def prepare(self, ctx: Context) -> None:
        settings = ctx.settings
        peer, peer_name = ctx.peer, ctx.peer_server_name
        if peer is None or peer_name is None:
            raise RuntimeError("federated_knock needs a peer homeserver")
        rooms_wanted = max(1, min(settings.knock_rooms, settings.federated_knocks))
        knockers = max(1, -(-settings.federated_knocks // rooms_wanted))
        owner = await register(peer, ctx.next_localpart("fedowner"), settings.password)
        rooms = await gather_limited(
            settings.concurrency,
            [create_room(peer, owner, KNOCK_ROOM) for _ in range(rooms_wanted)],
        )
        users = await ensure_users(ctx, knockers)
        pairs = _pairs(settings.federated_knocks, len(users), len(rooms))
        ctx.scratch["fed_pairs"] = [(users[u], rooms[r]) for u, r in pairs]

    async def operation(self, ctx: Context, index: int) -> None:
        pairs = ctx.scratch["fed_pairs"]
        assert isinstance(pairs, list) and ctx.peer_server_name is not None
        user, room_id = pairs[index]
        path = f"/_matrix/client/v3/knock/{q(room_id)}"
        # `via` since v1.12; `server_name` for servers that predate it.
        params = {"via": ctx.peer_server_name, "server_name": ctx.peer_server_name}
        await ctx.client.request("POST", path, {"reason": "bench"}, user.token, params=params)
