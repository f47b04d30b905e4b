"""Events and the room DAG: reading PDUs back, forward extremities, transaction IDs, redactions.

Writes go through ``transom.storage.persist.EventPersister`` so that an event, its edges, its
state and the membership tables change in one transaction. Events are immutable, so loaded
``Event`` objects are cached by ID.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from transom.core.events import Event
from transom.core.room_versions import get_room_version
from transom.storage.database import Connection, Database, Row


def placeholders(count: int, start: int = 1) -> str:
    """``$1, $2, ...`` for an IN list of ``count`` values."""
    return ", ".join(f"${i}" for i in range(start, start + count))


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event with what the server knows about it beyond its JSON."""

    event: Event
    stream_ordering: int
    rejected_reason: str | None
    outlier: bool


K = TypeVar("K")
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """A small least-recently-used cache."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        if len(self._data) > self._size:
            self._data.popitem(last=False)

    def pop(self, key: K) -> None:
        self._data.pop(key, None)


def _row_to_stored(row: Row) -> StoredEvent:
    room_version = get_room_version(row["room_version"])
    event = Event(json.loads(row["json"]), room_version, row["event_id"])
    return StoredEvent(
        event=event,
        stream_ordering=int(row["stream_ordering"]),
        rejected_reason=row["rejected_reason"],
        outlier=bool(row["outlier"]),
    )


_COLUMNS = "event_id, room_version, json, stream_ordering, rejected_reason, outlier"


class EventStore:
    """Reads of events and of the DAG around them."""

    def __init__(self, db: Database, cache_size: int = 50_000) -> None:
        self.db = db
        self._cache: LruCache[str, StoredEvent] = LruCache(cache_size)

    def remember(self, stored: StoredEvent) -> None:
        """Put a freshly persisted event in the cache (called by the persister after commit)."""
        self._cache.put(stored.event.event_id, stored)

    async def get_stored(
        self, event_ids: Iterable[str], conn: Connection | None = None
    ) -> dict[str, StoredEvent]:
        """Every known event among ``event_ids``, rejected ones included."""
        found: dict[str, StoredEvent] = {}
        missing: list[str] = []
        for event_id in dict.fromkeys(event_ids):
            cached = self._cache.get(event_id)
            if cached is not None:
                found[event_id] = cached
            else:
                missing.append(event_id)
        db = conn or self.db
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            rows = await db.fetch(
                f"SELECT {_COLUMNS} FROM events WHERE event_id IN ({placeholders(len(chunk))})",
                *chunk,
            )
            for row in rows:
                stored = _row_to_stored(row)
                self._cache.put(stored.event.event_id, stored)
                found[stored.event.event_id] = stored
        return found

    async def get_events(
        self, event_ids: Iterable[str], *, allow_rejected: bool = False
    ) -> dict[str, Event]:
        """Events by ID; rejected events are left out unless ``allow_rejected``."""
        stored = await self.get_stored(event_ids)
        return {
            event_id: s.event
            for event_id, s in stored.items()
            if allow_rejected or s.rejected_reason is None
        }

    async def get_event(self, event_id: str, *, allow_rejected: bool = False) -> Event | None:
        return (await self.get_events([event_id], allow_rejected=allow_rejected)).get(event_id)

    async def get_stream_ordering(self, event_id: str) -> int | None:
        stored = (await self.get_stored([event_id])).get(event_id)
        return stored.stream_ordering if stored else None

    async def have_events(self, event_ids: Sequence[str]) -> set[str]:
        """Which of ``event_ids`` are stored (rejected or not)."""
        return set((await self.get_stored(event_ids)).keys())

    async def rejected_among(self, event_ids: Sequence[str]) -> set[str]:
        stored = await self.get_stored(event_ids)
        return {eid for eid, s in stored.items() if s.rejected_reason is not None}

    async def get_forward_extremities(self, room_id: str) -> list[str]:
        rows = await self.db.fetch(
            "SELECT event_id FROM forward_extremities WHERE room_id = $1", room_id
        )
        return [row["event_id"] for row in rows]

    async def get_max_stream_ordering(self) -> int:
        value = await self.db.fetchval("SELECT MAX(stream_ordering) FROM events")
        return int(value or 0)

    async def get_txn_event(self, user_id: str, device_id: str, txn_id: str) -> str | None:
        value = await self.db.fetchval(
            "SELECT event_id FROM event_txn_ids"
            " WHERE user_id = $1 AND device_id = $2 AND txn_id = $3",
            user_id,
            device_id,
            txn_id,
        )
        return str(value) if value is not None else None

    async def get_redactions_of(self, event_ids: Sequence[str]) -> dict[str, str]:
        """Map of redacted event ID to the ID of a redaction of it (one of them)."""
        result: dict[str, str] = {}
        for start in range(0, len(event_ids), 500):
            chunk = list(event_ids[start : start + 500])
            rows = await self.db.fetch(
                "SELECT event_id, redacts FROM redactions"
                f" WHERE redacts IN ({placeholders(len(chunk))})",
                *chunk,
            )
            for row in rows:
                result.setdefault(row["redacts"], row["event_id"])
        return result

    async def room_events_between(
        self,
        room_id: str,
        *,
        after: int | None,
        before: int | None,
        limit: int,
        newest_first: bool,
    ) -> list[StoredEvent]:
        """Accepted, non-outlier events of a room with after < stream_ordering <= before."""
        order = "DESC" if newest_first else "ASC"
        rows = await self.db.fetch(
            f"SELECT {_COLUMNS} FROM events"
            " WHERE room_id = $1 AND outlier = FALSE AND rejected_reason IS NULL"
            " AND stream_ordering > $2 AND stream_ordering <= $3"
            f" ORDER BY stream_ordering {order} LIMIT $4",
            room_id,
            after if after is not None else -1,
            before if before is not None else 2**62,
            limit,
        )
        events = [_row_to_stored(row) for row in rows]
        for stored in events:
            self._cache.put(stored.event.event_id, stored)
        return events

    async def rooms_with_events_after(self, room_ids: Sequence[str], after: int) -> set[str]:
        """Which of ``room_ids`` have timeline events with stream_ordering > ``after``."""
        found: set[str] = set()
        for start in range(0, len(room_ids), 500):
            chunk = list(room_ids[start : start + 500])
            rows = await self.db.fetch(
                "SELECT DISTINCT room_id FROM events"
                f" WHERE stream_ordering > $1 AND outlier = FALSE"
                f" AND room_id IN ({placeholders(len(chunk), 2)})",
                after,
                *chunk,
            )
            found.update(row["room_id"] for row in rows)
        return found
