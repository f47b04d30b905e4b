"""Adapters to the services that feed ``/sync`` beyond room events: typing and receipts
(``ephemeral``), account data, unread notification counts (client-server API "Typing
Notifications", "Receipts", "Client Config", "Push Notifications": ``unread_notifications``).

Each service is optional: a server without one of them syncs without that data.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from transom.core.events import JsonDict
from transom.storage.events import LruCache

TypingSeen = dict[str, tuple[str, ...]]


class Extras:
    def __init__(self, hs: Any) -> None:
        self.hs = hs
        # (user, device) -> room -> the typing users last sent to that device.
        self._typing_sent: LruCache[tuple[str, str | None], TypingSeen] = LruCache(50_000)
        # Receipts service class -> whether its ``receipt_events`` takes the user.
        self._takes_user: dict[type, bool] = {}

    @property
    def typing_serial(self) -> int:
        typing = getattr(self.hs, "typing", None)
        return int(typing.serial) if typing is not None else 0

    def typing_events(
        self,
        user_id: str,
        device_id: str | None,
        room_ids: Sequence[str],
        since_serial: int | None,
        serial: int,
    ) -> dict[str, JsonDict]:
        """``m.typing`` per room whose typing users changed for this device since its last
        sync (all rooms with typers on an initial sync)."""
        typing = getattr(self.hs, "typing", None)
        if typing is None:
            return {}
        key = (user_id, device_id)
        seen = self._typing_sent.get(key) if since_serial is not None else None
        if seen is not None and since_serial == serial:
            return {}
        previous = seen or {}
        now_seen: TypingSeen = {}
        result: dict[str, JsonDict] = {}
        for room_id in room_ids:
            users = tuple(typing.users_typing(room_id))
            if users:
                now_seen[room_id] = users
            if users != previous.get(room_id, ()):
                result[room_id] = {"type": "m.typing", "content": {"user_ids": list(users)}}
        self._typing_sent.put(key, now_seen)
        return result

    async def receipt_events(
        self, user_id: str, room_ids: Sequence[str], after: int
    ) -> dict[str, JsonDict]:
        receipts = getattr(self.hs, "receipts", None)
        if receipts is None or not room_ids:
            return {}
        fn = receipts.receipt_events
        takes_user = self._takes_user.get(type(receipts))
        if takes_user is None:
            takes_user = "user_id" in inspect.signature(fn).parameters
            self._takes_user[type(receipts)] = takes_user
        if takes_user:
            found = await fn(user_id, list(room_ids), after)
        else:
            found = await fn(list(room_ids), after)
        result: dict[str, JsonDict] = {}
        for room_id, event in (found or {}).items():
            # Accept either a whole m.receipt event or only its content.
            if isinstance(event, dict) and event.get("type") == "m.receipt":
                result[room_id] = event
            else:
                result[room_id] = {"type": "m.receipt", "content": event}
        return result

    async def account_data(
        self, user_id: str, after: int
    ) -> tuple[dict[str, JsonDict], dict[str, dict[str, JsonDict]]]:
        service = getattr(self.hs, "account_data", None)
        if service is None:
            return {}, {}
        global_data, rooms = await service.changes(user_id, after)
        return dict(global_data or {}), dict(rooms or {})

    async def unread_counts_many(
        self, user_id: str, room_ids: Sequence[str]
    ) -> dict[str, tuple[int, int]]:
        """Counts for several rooms, read together."""
        push = getattr(self.hs, "push", None)
        if push is None or not hasattr(push, "unread_counts_many"):
            return {room_id: await self.unread_counts(user_id, room_id) for room_id in room_ids}
        counts = await push.unread_counts_many(user_id, room_ids)
        return {room_id: (int(n), int(h)) for room_id, (n, h) in counts.items()}

    async def unread_counts(self, user_id: str, room_id: str) -> tuple[int, int]:
        push = getattr(self.hs, "push", None)
        if push is None or not hasattr(push, "unread_counts"):
            return 0, 0
        notifications, highlights = await push.unread_counts(user_id, room_id)
        return int(notifications), int(highlights)
