"""Outbound EDUs: our users' typing notifications and public read receipts, sent to the other
servers in the room.

Spec: server-server API "Typing Notifications" (``m.typing``: ``room_id``, ``user_id``,
``typing``; sent to the servers of the room's other members) and "Receipts" (``m.receipt``:
room ID → ``m.read`` → user ID → ``{event_ids: [one event], data: {ts, thread_id?}}``). Only
local users' changes are sent (a remote user's arrive from their own server), and
``m.read.private`` receipts never leave this server (client-server API "Private read
receipts"). Neither EDU is room-versioned: all room versions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from transom.core.events import JsonDict
from transom.services.ephemeral import PRIVATE_RECEIPT
from transom.storage.receipts import Receipt


class EduSender(Protocol):
    async def send_edu(self, destination: str, edu_type: str, content: JsonDict) -> None: ...


class JoinedHosts(Protocol):
    async def get_joined_hosts(self, room_id: str) -> set[str]: ...


class OutboundEdus:
    """Listener of ``hs.typing`` and ``hs.receipts`` that queues EDUs on the federation
    sender."""

    def __init__(
        self,
        *,
        server_name: str,
        sender: EduSender,
        state: JoinedHosts,
        is_local_user: Callable[[str], bool],
    ) -> None:
        self.server_name = server_name
        self.sender = sender
        self.state = state
        self.is_local_user = is_local_user

    async def _destinations(self, room_id: str) -> list[str]:
        hosts = await self.state.get_joined_hosts(room_id)
        return sorted(hosts - {self.server_name})

    async def on_typing(self, room_id: str, user_id: str, typing: bool) -> None:
        if not self.is_local_user(user_id):
            return
        content = {"room_id": room_id, "user_id": user_id, "typing": typing}
        for destination in await self._destinations(room_id):
            await self.sender.send_edu(destination, "m.typing", content)

    async def on_receipt(self, receipt: Receipt) -> None:
        if receipt.receipt_type == PRIVATE_RECEIPT or not self.is_local_user(receipt.user_id):
            return
        data: JsonDict = {"ts": receipt.ts}
        if receipt.thread_id is not None:
            data["thread_id"] = receipt.thread_id
        content = {
            receipt.room_id: {
                receipt.receipt_type: {
                    receipt.user_id: {"event_ids": [receipt.event_id], "data": data}
                }
            }
        }
        for destination in await self._destinations(receipt.room_id):
            await self.sender.send_edu(destination, "m.receipt", content)
