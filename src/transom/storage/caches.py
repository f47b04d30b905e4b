"""A bounded cache for values read far more often than written.

``FifoCache`` evicts the entry inserted longest ago and never reorders on reads, so a read is a
plain dictionary lookup (``LruCache.get`` also moves the entry, several times the cost). Suited
to caches of immutable data that a request reads hundreds of times (one entry per event).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, Protocol, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class FifoCache(Generic[K, V]):
    """At most ``size`` entries; the oldest inserted goes first."""

    __slots__ = ("_data", "_size", "get")

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        # The value for a key, or None.
        self.get: Callable[[K], V | None] = self._data.get

    def put(self, key: K, value: V) -> None:
        data = self._data
        if key not in data and len(data) >= self._size:
            data.popitem(last=False)
        data[key] = value

    def pop(self, key: K) -> None:
        self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class StreamPositionsLike(Protocol):
    """The stream allocator's two ends (``transom.storage.persist.StreamAllocator``)."""

    @property
    def current(self) -> int: ...

    @property
    def backfill_current(self) -> int: ...


class StreamWatermark:
    """The span of stream positions a cache has accounted for, and its epoch.

    A cache keyed by room or event is exact while every write since it was filled has been
    looked at: ``catch_up`` reads what changed at positions not seen yet (above the forward end,
    below the backfill end) and drops those entries, or everything beyond ``rescan_limit``
    unseen positions. ``epoch`` is bumped whenever entries are dropped: a value read from the
    database while that happened may predate the write that dropped it and must not be stored
    (callers compare the epoch ``catch_up`` returned with the current one before storing).
    """

    def __init__(self, rescan_limit: int = 20_000) -> None:
        self.rescan_limit = rescan_limit
        # Positions in [low, high] have been seen (high None: nothing read yet).
        self.high: int | None = None
        self.low = 0
        self.epoch = 0

    async def catch_up(
        self,
        streams: StreamPositionsLike | None,
        changed_between: Callable[[int, int], Awaitable[Iterable[str]]],
        drop: Callable[[str], object],
        clear: Callable[[], object],
    ) -> int | None:
        """Bring the cache up to the streams' ends; the epoch to store new values under, or
        None without stream positions (nothing may be cached). ``changed_between(after, upto)``
        names the keys written at after < position <= upto."""
        if streams is None:
            return None
        high, low = streams.current, streams.backfill_current
        if self.high is None:
            self.high, self.low = high, low
            return self.epoch
        seen_high, seen_low = self.high, self.low
        if high == seen_high and low == seen_low:
            return self.epoch
        if high - seen_high > self.rescan_limit or seen_low - low > self.rescan_limit:
            clear()
            self.epoch += 1
        else:
            keys: list[str] = []
            if high > seen_high:
                keys += await changed_between(seen_high, high)
            if low < seen_low:
                keys += await changed_between(low - 1, seen_low - 1)
            if keys:
                for key in keys:
                    drop(key)
                self.epoch += 1
        # Everything in [seen_low, seen_high] was seen already; so now is [low, high].
        self.high = max(self.high, high)
        self.low = min(self.low, low)
        return self.epoch
