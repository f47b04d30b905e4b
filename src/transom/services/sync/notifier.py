"""The sync notifier: wakes long-polling ``/sync`` requests (client-server API "Syncing":
``timeout``, "the maximum time to wait ... before returning").

Every committed write to the global stream (``StreamAllocator.on_advance``) and every typing
change bumps ``version`` and wakes all waiters; each woken request rebuilds its response and
goes back to sleep if nothing concerned its user. A waiter passes the version it saw before
building, so a change that lands while it builds is never missed.
"""

from __future__ import annotations

import asyncio
from typing import Any


class Notifier:
    def __init__(self) -> None:
        self.version = 0
        self._waiters: set[asyncio.Future[None]] = set()

    def notify(self, *_: Any) -> None:
        """Something changed (a stream position or the typing serial): wake everyone."""
        self.version += 1
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self, seen_version: int, timeout: float) -> bool:
        """Wait until ``version`` moves past ``seen_version`` or ``timeout`` seconds pass.
        Returns whether something changed."""
        if self.version != seen_version:
            return True
        if timeout <= 0:
            return False
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            return self.version != seen_version
        finally:
            self._waiters.discard(waiter)
        return True
