"""Batched reads for ``/sync`` (client-server API "Syncing"): the newest events of many rooms in
one query, and the transaction IDs of a device's own events.

Each query covers many rooms at once so an initial sync costs a few round trips, not a few per
room; event bodies then come through ``EventStore.get_stored`` and its cache.
"""

from __future__ import annotations

from collections.abc import Sequence

from transom.storage.database import Database
from transom.storage.events import placeholders

_CHUNK = 100

# An exclusive lower bound that leaves out backfilled history: forward stream positions start
# at 1, backfilled events take positions at or below 0 (``transom.storage.persist``).
LIVE_AFTER = 0


class SyncQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def recent_event_ids(
        self, room_ids: Sequence[str], *, after: int | None, before: int, limit: int
    ) -> dict[str, list[tuple[int, str]]]:
        """Per room, up to ``limit`` (stream_ordering, event_id) of accepted, non-outlier
        events with after < stream_ordering <= before, newest first; ``after`` None: no lower
        bound, backfilled history included (``LIVE_AFTER`` leaves it out). Rooms with none are
        left out."""
        result: dict[str, list[tuple[int, str]]] = {}
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

    async def txn_ids(
        self, user_id: str, device_id: str, event_ids: Sequence[str]
    ) -> dict[str, str]:
        """event ID -> transaction ID, for those of ``event_ids`` this device sent."""
        found: dict[str, str] = {}
        for start in range(0, len(event_ids), 500):
            chunk = list(event_ids[start : start + 500])
            rows = await self.db.fetch(
                "SELECT event_id, txn_id FROM event_txn_ids WHERE user_id = $1 AND device_id = $2"
                f" AND event_id IN ({placeholders(len(chunk), 3)})",
                user_id,
                device_id,
                *chunk,
            )
            found.update({row["event_id"]: row["txn_id"] for row in rows})
        return found
