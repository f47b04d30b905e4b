"""Sync phase: initial sync of a user who is in many rooms.

Spec: Client-Server API "Syncing" (``GET /sync`` without ``since``, ``timeout=0``): the full
state and recent timeline of every joined room.
"""

from __future__ import annotations

from bench.load import q
from bench.phases.base import Context, Phase, User, create_room, gather_limited, register


class InitialSync(Phase):
    name = "initial_sync"
    description = "N initial /sync calls of one user joined to S rooms (one message each)"

    def count(self, ctx: Context) -> int:
        return ctx.settings.syncs

    async def prepare(self, ctx: Context) -> None:
        user = await register(ctx.client, ctx.next_localpart("sync"), ctx.settings.password)
        ctx.scratch["sync_user"] = user

        async def room_with_message(n: int) -> None:
            room_id = await create_room(ctx.client, user, {"name": f"sync room {n}"})
            path = f"/_matrix/client/v3/rooms/{q(room_id)}/send/m.room.message/sync{n}"
            body = {"msgtype": "m.text", "body": f"hello {n}"}
            await ctx.client.request("PUT", path, body, user.token)

        await gather_limited(
            ctx.settings.concurrency, [room_with_message(n) for n in range(ctx.settings.sync_rooms)]
        )

    async def operation(self, ctx: Context, index: int) -> None:
        user = ctx.scratch["sync_user"]
        assert isinstance(user, User)
        _, data = await ctx.client.request(
            "GET", "/_matrix/client/v3/sync", token=user.token, params={"timeout": "0"}
        )
        joined = data.get("rooms", {}).get("join", {})
        if len(joined) < ctx.settings.sync_rooms:
            raise KeyError(f"initial sync listed {len(joined)} of {ctx.settings.sync_rooms} rooms")
