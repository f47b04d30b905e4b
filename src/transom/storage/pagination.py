"""Room timelines in topological order for pagination (client-server API "Getting events for a
room": ``/messages`` and ``/context``).

Events are ordered by ``(depth, stream_ordering)``; a bound is either such a pair (an event's
position, exclusive) or a stream position ("everything committed up to N").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from transom.core.events import Event
from transom.core.room_versions import get_room_version
from transom.storage.database import Database, Row
from transom.storage.events import StoredEvent, placeholders

_COLUMNS = "event_id, room_version, json, stream_ordering, rejected_reason, outlier, depth"


class StreamPositions(Protocol):
    """How far the persisted stream reaches (``StreamAllocator``): every position at or below
    ``current`` and at or above ``backfill_current`` is committed, in order."""

    current: int
    backfill_current: int


@dataclass(frozen=True, slots=True)
class Position:
    """Where a pagination token points: an event's ``(depth, stream)``, or when ``depth`` is
    None, "the latest as of stream position ``stream``"."""

    depth: int | None
    stream: int


@dataclass(frozen=True, slots=True)
class PagedEvent:
    stored: StoredEvent
    depth: int


def _stored(row: Row) -> StoredEvent:
    event = Event(json.loads(row["json"]), get_room_version(row["room_version"]), row["event_id"])
    return StoredEvent(event, int(row["stream_ordering"]), row["rejected_reason"], False)


def _bound(position: Position, *, older: bool, start: int) -> tuple[str, list[Any]]:
    """SQL for "strictly older than" (or "newer than") ``position``; placeholders from ``start``."""
    if position.depth is None:
        op = "<=" if older else ">"
        return f"stream_ordering {op} ${start}", [position.stream]
    op = "<" if older else ">"
    sql = f"(depth {op} ${start} OR (depth = ${start} AND stream_ordering {op} ${start + 1}))"
    return sql, [position.depth, position.stream]


class PaginationStore:
    """Reads of a room's accepted, non-outlier events in ``(depth, stream_ordering)`` order."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def page(
        self,
        room_id: str,
        *,
        start: Position | None,
        end: Position | None,
        backwards: bool,
        limit: int,
    ) -> list[PagedEvent]:
        """Up to ``limit`` events after ``start`` in the direction of travel, stopping before
        ``end``; newest first when ``backwards``."""
        clauses = ["room_id = $1", "outlier = FALSE", "rejected_reason IS NULL"]
        args: list[Any] = [room_id]
        if start is not None:
            sql, values = _bound(start, older=backwards, start=len(args) + 1)
            clauses.append(sql)
            args += values
        if end is not None:
            sql, values = _bound(end, older=not backwards, start=len(args) + 1)
            clauses.append(sql)
            args += values
        order = "DESC" if backwards else "ASC"
        args.append(limit)
        rows = await self.db.fetch(
            f"SELECT {_COLUMNS} FROM events WHERE {' AND '.join(clauses)}"
            f" ORDER BY depth {order}, stream_ordering {order} LIMIT ${len(args)}",
            *args,
        )
        return [PagedEvent(_stored(row), int(row["depth"])) for row in rows]

    async def depth_of(self, event_id: str) -> tuple[int, int] | None:
        """``(depth, stream_ordering)`` of a stored event."""
        row = await self.db.fetchrow(
            "SELECT depth, stream_ordering FROM events WHERE event_id = $1", event_id
        )
        return (int(row["depth"]), int(row["stream_ordering"])) if row is not None else None

    async def redactions_of(self, event_ids: list[str]) -> dict[str, list[str]]:
        """Every recorded redaction of each of ``event_ids``, oldest first."""
        result: dict[str, list[str]] = {}
        for offset in range(0, len(event_ids), 500):
            chunk = event_ids[offset : offset + 500]
            rows = await self.db.fetch(
                "SELECT r.event_id, r.redacts FROM redactions r"
                " JOIN events e ON e.event_id = r.event_id"
                f" WHERE r.redacts IN ({placeholders(len(chunk))})"
                " ORDER BY e.stream_ordering",
                *chunk,
            )
            for row in rows:
                result.setdefault(row["redacts"], []).append(row["event_id"])
        return result

    async def redacted_between(self, after: int, upto: int) -> list[str]:
        """The events redacted by the redactions persisted at after < stream_ordering <= upto
        (their targets, once per redaction)."""
        rows = await self.db.fetch(
            "SELECT r.redacts FROM events e JOIN redactions r ON r.event_id = e.event_id"
            " WHERE e.stream_ordering > $1 AND e.stream_ordering <= $2"
            " AND e.type = 'm.room.redaction'",
            after,
            upto,
        )
        return [str(row["redacts"]) for row in rows]

    async def last_join_stream(self, room_id: str, user_id: str) -> int | None:
        """Stream position of the user's most recent accepted ``join`` in the room."""
        rows = await self.db.fetch(
            "SELECT json, stream_ordering FROM events WHERE room_id = $1"
            " AND type = 'm.room.member' AND state_key = $2 AND outlier = FALSE"
            " AND rejected_reason IS NULL ORDER BY stream_ordering DESC",
            room_id,
            user_id,
        )
        for row in rows:
            content = json.loads(row["json"]).get("content")
            if isinstance(content, dict) and content.get("membership") == "join":
                return int(row["stream_ordering"])
        return None

    async def backward_extremities(self, room_id: str, limit: int) -> list[str]:
        """Prev events of the room's timeline events that are not timeline events themselves
        (unknown, or held only as outliers): where this server's history of the room stops.
        Those cited by the most recent events come first."""
        rows = await self.db.fetch(
            "SELECT ee.prev_event_id, MAX(e.depth) AS child_depth FROM event_edges ee"
            " JOIN events e ON e.event_id = ee.event_id"
            " WHERE e.room_id = $1 AND e.outlier = FALSE AND NOT EXISTS ("
            "SELECT 1 FROM events p WHERE p.event_id = ee.prev_event_id AND p.outlier = FALSE)"
            " GROUP BY ee.prev_event_id ORDER BY child_depth DESC, ee.prev_event_id LIMIT $2",
            room_id,
            limit,
        )
        return [str(row["prev_event_id"]) for row in rows]
