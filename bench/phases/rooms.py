"""Room phases: room creation and message sending into one busy room.

Spec: Client-Server API "Creation" (``POST /createRoom``) and "Sending events to a room"
(``PUT /rooms/{roomId}/send/{eventType}/{txnId}``).
"""

from __future__ import annotations

from bench.load import q
from bench.phases.base import Context, Phase, create_room, ensure_users, gather_limited, join


class CreateRoom(Phase):
    name = "create_room"
    description = "N private rooms created with POST /createRoom by rotating users"

    def count(self, ctx: Context) -> int:
        return ctx.settings.rooms

    async def prepare(self, ctx: Context) -> None:
        await ensure_users(ctx, max(1, min(ctx.settings.users, ctx.settings.concurrency)))

    async def operation(self, ctx: Context, index: int) -> None:
        creators = ctx.users[: max(1, min(len(ctx.users), ctx.settings.concurrency))]
        user = creators[index % len(creators)]
        ctx.rooms.append(await create_room(ctx.client, user, {"preset": "private_chat"}))


class SendMessages(Phase):
    name = "send_messages"
    description = "N m.room.message events into one public room, senders rotating"

    def count(self, ctx: Context) -> int:
        return ctx.settings.messages

    async def prepare(self, ctx: Context) -> None:
        senders = await ensure_users(ctx, max(1, min(ctx.settings.users, ctx.settings.concurrency)))
        room_id = await create_room(ctx.client, senders[0], {"preset": "public_chat"})
        await gather_limited(
            ctx.settings.concurrency, [join(ctx.client, user, room_id) for user in senders[1:]]
        )
        ctx.scratch["send_room"] = room_id
        ctx.scratch["send_senders"] = senders

    async def operation(self, ctx: Context, index: int) -> None:
        room_id = ctx.scratch["send_room"]
        senders = ctx.scratch["send_senders"]
        assert isinstance(room_id, str) and isinstance(senders, list)
        user = senders[index % len(senders)]
        path = f"/_matrix/client/v3/rooms/{q(room_id)}/send/m.room.message/{ctx.prefix}txn{index}"
        body = {"msgtype": "m.text", "body": f"message {index}"}
        await ctx.client.request("PUT", path, body, user.token)
