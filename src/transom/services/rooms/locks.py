"""One writer per room: every write to a room's DAG goes through that room's lock.

Different rooms proceed in parallel; a room's lock is dropped when nobody holds or waits for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class RoomLocks:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def lock(self, room_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(room_id, asyncio.Lock())
        self._users[room_id] = self._users.get(room_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[room_id] -= 1
            if self._users[room_id] == 0:
                del self._users[room_id]
                del self._locks[room_id]
