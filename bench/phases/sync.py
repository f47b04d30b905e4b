"""Sync phase: initial sync of a user who is in many rooms.

Spec: Client-Server API "Syncing" (``GET /sync`` without ``since``, ``timeout=0``): the full
state and recent timeline of every joined room.

Each measured sync comes from its own device (a password login per sync, made in ``prepare``).
Synapse keeps a finished /sync response for two minutes by default
(``caches.sync_response_cache_duration: 2m``) and answers an identical request from the same
device (its key: user, device, since, filter, timeout, full_state, ...) from that cache; a
repeated initial sync from one device would mostly measure that cache, not an initial sync.
Distinct devices make every measured sync a real one on every server.
"""

from __future__ import annotations

from bench.load import q
from bench.phases.base import Context, Phase, create_room, gather_limited, register


class InitialSync(Phase):
    name = "initial_sync"
    description = (
        "N initial /sync calls of one user joined to S rooms (one message each),"
        " each from a new device"
    )

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

        async def device_token(n: int) -> str:
            body = {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": user.localpart},
                "password": ctx.settings.password,
                "device_id": f"SYNC{n}",
            }
            _, data = await ctx.client.request("POST", "/_matrix/client/v3/login", body)
            return str(data["access_token"])

        ctx.scratch["sync_tokens"] = await gather_limited(
            ctx.settings.concurrency, [device_token(n) for n in range(ctx.settings.syncs)]
        )

    async def operation(self, ctx: Context, index: int) -> None:
        tokens = ctx.scratch["sync_tokens"]
        assert isinstance(tokens, list)
        _, data = await ctx.client.request(
            "GET", "/_matrix/client/v3/sync", token=tokens[index], params={"timeout": "0"}
        )
        joined = data.get("rooms", {}).get("join", {})
        if len(joined) < ctx.settings.sync_rooms:
            raise KeyError(f"initial sync listed {len(joined)} of {ctx.settings.sync_rooms} rooms")
