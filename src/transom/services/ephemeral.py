"""Ephemeral room data: typing notifications and receipts (client-server API, "Typing
Notifications" and "Receipts", incl. private and threaded receipts).

Typing is in memory: who types in which room, each until a timeout; ``serial`` bumps on every
change (expiry included) and ``on_change`` callbacks wake sync; ``on_typing`` listeners learn
each change, a timeout running out included (federation sends them to the room's other
servers, so they stop showing the user as typing when this server does). Receipts are
stored, one per (room, type, user, thread), each write taking a position of the one global
stream; an ``m.read`` or ``m.read.private`` receipt also clears the user's notifications up
to its event; ``listeners`` learn each receipt that moved. Neither is room-versioned: this
applies in every room version.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

from transom.services.clock import Clock
from transom.services.errors import Forbidden, InvalidParam, NotFound
from transom.storage.database import Connection
from transom.storage.events import EventStore
from transom.storage.persist import StreamAllocator
from transom.storage.push import PushActionStore
from transom.storage.receipts import Receipt, ReceiptStore

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]
MembershipLookup = Callable[[str, str], Awaitable[str | None]]
# (room_id, user_id, typing): a user started (or refreshed) or stopped typing.
TypingListener = Callable[[str, str, bool], Awaitable[None]]
ReceiptListener = Callable[[Receipt], Awaitable[None]]

# "Typing Notifications": the client says how long it will type; absent a timeout the server
# picks one. It is capped so a client cannot leave a user "typing" for ever.
DEFAULT_TYPING_TIMEOUT_MS: Final = 30_000
MAX_TYPING_TIMEOUT_MS: Final = 120_000

# "Receipts": the receipt types a client may send (m.fully_read is a read marker instead).
RECEIPT_TYPES: Final = frozenset({"m.read", "m.read.private"})
PRIVATE_RECEIPT: Final = "m.read.private"


class TypingService:
    """Who is typing where, in memory, each entry expiring with its timeout."""

    def __init__(self, clock: Clock, membership_of: MembershipLookup) -> None:
        self.clock = clock
        self.membership_of = membership_of
        self.serial = 0
        # room_id -> user_id -> expiry (ms since the epoch)
        self._typing: dict[str, dict[str, int]] = {}
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._callbacks: list[Callable[[], None]] = []
        self._listeners: list[TypingListener] = []
        # Listener calls for expiries, which run from a timer callback (kept until done).
        self._expiry_tasks: set[asyncio.Task[None]] = set()

    def on_change(self, callback: Callable[[], None]) -> None:
        """``callback()`` after every change, expiry included (sync wakes up)."""
        self._callbacks.append(callback)

    def on_typing(self, listener: TypingListener) -> None:
        """``await listener(room_id, user_id, typing)`` after each ``set_typing`` that changed
        something or refreshed a timeout, and with ``typing=False`` when a timeout runs out."""
        self._listeners.append(listener)

    def users_typing(self, room_id: str) -> list[str]:
        now = self.clock.time_msec()
        users = self._typing.get(room_id, {})
        return sorted(user for user, expiry in users.items() if expiry > now)

    async def set_typing(
        self, user_id: str, room_id: str, typing: bool, timeout_ms: int | None = None
    ) -> None:
        """Start or stop typing; only joined members may (403 otherwise)."""
        if await self.membership_of(room_id, user_id) != "join":
            raise Forbidden(f"{user_id} is not in room {room_id}")
        key = (room_id, user_id)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        if typing:
            timeout = DEFAULT_TYPING_TIMEOUT_MS if timeout_ms is None else timeout_ms
            timeout = max(0, min(timeout, MAX_TYPING_TIMEOUT_MS))
            self._typing.setdefault(room_id, {})[user_id] = self.clock.time_msec() + timeout
            loop = asyncio.get_running_loop()
            self._timers[key] = loop.call_later(timeout / 1000, self._expire, room_id, user_id)
            self._changed()
        elif self._remove(room_id, user_id):
            self._changed()
        else:
            return  # was not typing: nothing to tell anyone
        await self._tell(room_id, user_id, typing)

    async def _tell(self, room_id: str, user_id: str, typing: bool) -> None:
        for listener in list(self._listeners):
            try:
                await listener(room_id, user_id, typing)
            except Exception:
                logger.exception("typing listener failed")

    def _remove(self, room_id: str, user_id: str) -> bool:
        users = self._typing.get(room_id)
        if users is None or user_id not in users:
            return False
        del users[user_id]
        if not users:
            del self._typing[room_id]
        return True

    def _expire(self, room_id: str, user_id: str) -> None:
        """The timeout ran out: the user stops typing, for long-polling ``/sync`` requests
        (woken by ``_changed``) and for the room's other servers, which the server-server API
        "Typing Notifications" tells with an ``m.typing`` EDU of ``typing: false`` (their own
        fallback timeout would keep the user typing there until it runs out)."""
        self._timers.pop((room_id, user_id), None)
        if not self._remove(room_id, user_id):
            return
        self._changed()
        task = asyncio.get_running_loop().create_task(self._tell(room_id, user_id, False))
        self._expiry_tasks.add(task)
        task.add_done_callback(self._expiry_tasks.discard)

    def _changed(self) -> None:
        self.serial += 1
        for callback in self._callbacks:
            try:
                callback()
            except Exception:
                logger.exception("typing change callback failed")


class ReceiptService:
    """Stores receipts and serves them as ``m.receipt`` ephemeral event content."""

    def __init__(
        self,
        *,
        store: ReceiptStore,
        push_actions: PushActionStore,
        streams: StreamAllocator,
        clock: Clock,
        membership_of: MembershipLookup,
        events: EventStore,
    ) -> None:
        self.store = store
        self.push_actions = push_actions
        self.streams = streams
        self.clock = clock
        self.membership_of = membership_of
        self.events = events
        self.listeners: list[ReceiptListener] = []

    async def set_receipt(
        self,
        user_id: str,
        room_id: str,
        receipt_type: str,
        event_id: str,
        thread_id: str | None = None,
    ) -> None:
        """Move the user's receipt of ``receipt_type`` (in ``thread_id``, or unthreaded) to
        ``event_id``. A receipt never moves backwards: an older event is accepted and ignored."""
        if receipt_type not in RECEIPT_TYPES:
            raise InvalidParam(f"Unknown receipt type {receipt_type!r}")
        if thread_id is not None and (not isinstance(thread_id, str) or not thread_id):
            # "Receipts" → threaded receipts: 400 when "It is not a string. It is empty."
            raise InvalidParam("thread_id field must be a non-empty string")
        if await self.membership_of(room_id, user_id) != "join":
            raise Forbidden(f"{user_id} is not in room {room_id}")
        stored = (await self.events.get_stored([event_id])).get(event_id)
        if stored is None or stored.event.room_id != room_id or stored.rejected_reason:
            raise NotFound(f"Event {event_id} is not in room {room_id}")
        position = stored.stream_ordering
        current = await self.store.get_position(room_id, receipt_type, user_id, thread_id)
        if current is None or position > current:
            receipt = Receipt(
                room_id=room_id,
                receipt_type=receipt_type,
                user_id=user_id,
                thread_id=thread_id,
                event_id=event_id,
                event_stream_ordering=position,
                ts=self.clock.time_msec(),
                stream_id=0,
            )

            async def write(conn: Connection, positions: list[int]) -> None:
                await self.store.put(conn, dataclasses.replace(receipt, stream_id=positions[0]))

            await self.streams.write(1, write)
            for listener in list(self.listeners):
                try:
                    await listener(receipt)
                except Exception:
                    logger.exception("receipt listener failed")
        # "Receiving notifications": a read receipt (public or private) clears the counts up to
        # its event; a threaded one only that thread's.
        await self.push_actions.mark_read(user_id, room_id, position, thread_id)

    async def receipt_events(
        self, user_id: str, room_ids: Sequence[str], after_stream: int
    ) -> dict[str, JsonDict]:
        """room_id -> ``m.receipt`` content of receipts written after ``after_stream``, as seen
        by ``user_id`` (``m.read.private`` receipts only to their owner)."""
        result: dict[str, JsonDict] = {}
        for receipt in await self.store.since(room_ids, after_stream):
            if receipt.receipt_type == PRIVATE_RECEIPT and receipt.user_id != user_id:
                continue
            data: JsonDict = {"ts": receipt.ts}
            if receipt.thread_id is not None:
                data["thread_id"] = receipt.thread_id
            content = result.setdefault(receipt.room_id, {})
            by_type = content.setdefault(receipt.event_id, {})
            by_type.setdefault(receipt.receipt_type, {})[receipt.user_id] = data
        return result
