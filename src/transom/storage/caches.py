"""A bounded cache for values read far more often than written.

``FifoCache`` evicts the entry inserted longest ago and never reorders on reads, so a read is a
plain dictionary lookup (``LruCache.get`` also moves the entry, several times the cost). Suited
to caches of immutable data that a request reads hundreds of times (one entry per event).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

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
