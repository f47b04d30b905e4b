"""Time as an injected dependency.

Services and rate limiters never read the system clock directly: they are handed a ``Clock`` so
tests can move time by hand (``ManualClock``).
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Wall-clock time in seconds and milliseconds since the Unix epoch."""

    def time(self) -> float: ...

    def time_msec(self) -> int: ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def time_msec(self) -> int:
        return int(time.time() * 1000)


class ManualClock:
    """A clock that only moves when told to (for tests)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start

    def time(self) -> float:
        return self._now

    def time_msec(self) -> int:
        return int(self._now * 1000)

    def advance(self, seconds: float) -> None:
        self._now += seconds
