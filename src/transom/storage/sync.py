"""Batched reads for ``/sync`` (client-server API "Syncing"): the newest events of many rooms in
one query, and the transaction IDs of a device's own events.

Each query covers many rooms at once so an initial sync costs a few round trips, not a few per
room; event bodies then come through ``EventStore.get_stored`` and its cache.

Two caches keep repeated syncs off the database, both exact:

- per room, what only changes with a new event of the room: its newest timeline events, filled
  by ``recent_event_ids``, and values the sync service derives from the room's current state
  (``memo``/``remember``). They are kept up to date by stream position: ``catch_up`` reads
  the rooms that received events at positions not seen yet (forwards, or downwards for
  backfilled history) in one query and drops their entries. Entries are only filled for the
  newest position seen, so a recent-events entry always lists every timeline event of its room
  between its ``floor`` and that position;
- the transaction ID of each event, which is written in the event's own transaction and never
  changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from transom.storage.caches import FifoCache, StreamWatermark
from transom.storage.database import Database
from transom.storage.events import LruCache, placeholders
from transom.storage.pagination import StreamPositions

_CHUNK = 100

# An exclusive lower bound that leaves out backfilled history: forward stream positions start
# at 1, backfilled events take positions at or below 0 (``transom.storage.persist``).
LIVE_AFTER = 0

# Beyond this many unseen stream positions the cache is dropped rather than brought up to date.
RESCAN_LIMIT = 20_000

Rows = list[tuple[int, str]]


@dataclass(frozen=True, slots=True)
class _Recent:
    """Every accepted, non-outlier event of a room with ``floor`` < stream_ordering (no lower
    bound when ``floor`` is None), newest first, as of the newest position seen."""

    rows: Rows
    floor: int | None

    def answer(self, after: int | None, before: int, limit: int) -> Rows | None:
        """The query's answer, or None when the entry does not reach far enough back."""
        rows = [r for r in self.rows if r[0] <= before and (after is None or r[0] > after)][:limit]
        if len(rows) == limit or self.floor is None:
            return rows
        if after is not None and after >= self.floor:
            return rows
        return None


class SyncQueries:
    def __init__(
        self,
        db: Database,
        streams: StreamPositions | None = None,
        *,
        rooms_cached: int = 20_000,
        txns_cached: int = 50_000,
    ) -> None:
        self.db = db
        self._rooms_cached = rooms_cached
        # Without stream positions the recent events are not cached.
        self.streams = streams
        # room ID -> name -> value: "recent" (a ``_Recent``) and the sync service's memos.
        self._rooms: LruCache[str, dict[str, Any]] = LruCache(rooms_cached)
        # The stream positions whose rooms' events have been accounted for, and the epoch.
        self._seen = StreamWatermark(RESCAN_LIMIT)
        # event ID -> (user ID, device ID, transaction ID), () for an event sent without one.
        self._txns: FifoCache[str, tuple[str, ...]] = FifoCache(txns_cached)

    def memo(self, room_id: str, name: str) -> Any:
        """A value remembered for the room since its last event, or None."""
        entry = self._rooms.get(room_id)
        return entry.get(name) if entry is not None else None

    def remember(self, room_id: str, name: str, value: Any, epoch: int | None) -> None:
        """Remember ``value``, read from the database after ``catch_up`` returned ``epoch``,
        until the room's next event; not if entries were dropped since (the value may predate
        the event that dropped them)."""
        if epoch is None or epoch != self._seen.epoch:
            return
        entry = self._rooms.get(room_id)
        if entry is None:
            self._rooms.put(room_id, {name: value})
        else:
            entry[name] = value

    async def recent_event_ids(
        self, room_ids: Sequence[str], *, after: int | None, before: int, limit: int
    ) -> dict[str, Rows]:
        """Per room, up to ``limit`` (stream_ordering, event_id) of accepted, non-outlier
        events with after < stream_ordering <= before, newest first; ``after`` None: no lower
        bound, backfilled history included (``LIVE_AFTER`` leaves it out). Rooms with none are
        left out."""
        result: dict[str, Rows] = {}
        epoch = await self.catch_up()
        # Entries are filled only for a window ending at the newest position seen, so they
        # hold for every later read until an event of their room is seen.
        fill = epoch is not None and before == self._seen.high
        missing: list[str] = []
        for room_id in room_ids:
            entry = self.memo(room_id, "recent") if epoch is not None else None
            found = entry.answer(after, before, limit) if entry is not None else None
            if found is None:
                missing.append(room_id)
            elif found:
                result[room_id] = found
        if not missing:
            return result
        loaded = await self._query(missing, after, before, limit)
        for room_id in missing:
            rows = loaded.get(room_id, [])
            if rows:
                result[room_id] = rows
            if fill:
                floor = after if len(rows) < limit else rows[-1][0] - 1
                self.remember(room_id, "recent", _Recent(list(rows), floor), epoch)
        return result

    async def _query(
        self, room_ids: Sequence[str], after: int | None, before: int, limit: int
    ) -> dict[str, Rows]:
        result: dict[str, Rows] = {}
        for start in range(0, len(room_ids), _CHUNK):
            chunk = list(room_ids[start : start + _CHUNK])
            lower = " AND stream_ordering > $3" if after is not None else ""
            first = 3 if after is None else 4
            # One LIMITed subquery per room, so each walks the (room_id, stream_ordering) index
            # backwards from ``before`` and stops after ``limit`` rows.
            parts = [
                "SELECT * FROM (SELECT room_id, stream_ordering, event_id FROM events"
                f" WHERE room_id = ${first + i} AND outlier = FALSE AND rejected_reason IS NULL"
                f" AND stream_ordering <= $1{lower}"
                f" ORDER BY stream_ordering DESC LIMIT $2) AS q{i}"
                for i in range(len(chunk))
            ]
            bounds = [after] if after is not None else []
            rows = await self.db.fetch(" UNION ALL ".join(parts), before, limit, *bounds, *chunk)
            for row in rows:
                result.setdefault(row["room_id"], []).append(
                    (int(row["stream_ordering"]), row["event_id"])
                )
        for events in result.values():
            events.sort(reverse=True)
        return result

    async def catch_up(self) -> int | None:
        """Drop the entries of rooms with events at positions not seen yet; the epoch to fill
        entries under, or None when nothing is cached."""
        return await self._seen.catch_up(
            self.streams, self._rooms_between, self._rooms.pop, self._clear_rooms
        )

    def _clear_rooms(self) -> None:
        self._rooms = LruCache(self._rooms_cached)

    async def _rooms_between(self, after: int, upto: int) -> set[str]:
        """Rooms with events (of any kind) at after < stream_ordering <= upto."""
        rows = await self.db.fetch(
            "SELECT DISTINCT room_id FROM events WHERE stream_ordering > $1"
            " AND stream_ordering <= $2",
            after,
            upto,
        )
        return {str(row["room_id"]) for row in rows}

    async def txn_ids(
        self, user_id: str, device_id: str, event_ids: Sequence[str]
    ) -> dict[str, str]:
        """event ID -> transaction ID, for those of ``event_ids`` this device sent. Only
        persisted events may be asked about: their transaction ID is final."""
        get = self._txns.get
        known: dict[str, tuple[str, ...]] = {}
        missing: list[str] = []
        for event_id in event_ids:
            txn = get(event_id)
            if txn is None:
                missing.append(event_id)
            else:
                known[event_id] = txn
        missing = list(dict.fromkeys(missing))
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            rows = await self.db.fetch(
                "SELECT event_id, user_id, device_id, txn_id FROM event_txn_ids"
                f" WHERE event_id IN ({placeholders(len(chunk))})",
                *chunk,
            )
            sent = {row["event_id"]: row for row in rows}
            for event_id in chunk:
                row = sent.get(event_id)
                txn = (row["user_id"], row["device_id"], row["txn_id"]) if row is not None else ()
                self._txns.put(event_id, txn)
                known[event_id] = txn
        return {
            event_id: txn[2]
            for event_id, txn in known.items()
            if txn and txn[0] == user_id and txn[1] == device_id
        }
