"""Receipt storage (client-server API, "Receipts", incl. threaded receipts).

The latest receipt per (room, receipt type, user, thread); ``thread_id`` is ``''`` for an
unthreaded receipt. Each write takes a position of the one global stream (``stream_id``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from transom.storage.database import Connection, Database
from transom.storage.events import placeholders

UNTHREADED = ""


@dataclass(frozen=True, slots=True)
class Receipt:
    room_id: str
    receipt_type: str
    user_id: str
    thread_id: str | None
    event_id: str
    event_stream_ordering: int
    ts: int
    stream_id: int


class ReceiptStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_position(
        self, room_id: str, receipt_type: str, user_id: str, thread_id: str | None
    ) -> int | None:
        """The stream ordering of the event the current receipt points at, if any."""
        value = await self.db.fetchval(
            "SELECT event_stream_ordering FROM receipts WHERE room_id = $1"
            " AND receipt_type = $2 AND user_id = $3 AND thread_id = $4",
            room_id,
            receipt_type,
            user_id,
            thread_id or UNTHREADED,
        )
        return int(value) if value is not None else None

    @staticmethod
    async def put(conn: Connection, receipt: Receipt) -> None:
        """Insert or replace a receipt (inside a stream write)."""
        await conn.execute(
            "INSERT INTO receipts (room_id, receipt_type, user_id, thread_id, event_id,"
            " event_stream_ordering, ts, stream_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (room_id, receipt_type, user_id, thread_id)"
            " DO UPDATE SET event_id = $5, event_stream_ordering = $6, ts = $7, stream_id = $8",
            receipt.room_id,
            receipt.receipt_type,
            receipt.user_id,
            receipt.thread_id or UNTHREADED,
            receipt.event_id,
            receipt.event_stream_ordering,
            receipt.ts,
            receipt.stream_id,
        )

    async def since(self, room_ids: Sequence[str], after_stream: int) -> list[Receipt]:
        """Receipts in ``room_ids`` written after ``after_stream``, oldest first."""
        found: list[Receipt] = []
        room_ids = list(dict.fromkeys(room_ids))
        for start in range(0, len(room_ids), 500):
            chunk = room_ids[start : start + 500]
            rows = await self.db.fetch(
                "SELECT room_id, receipt_type, user_id, thread_id, event_id,"
                " event_stream_ordering, ts, stream_id FROM receipts"
                f" WHERE stream_id > $1 AND room_id IN ({placeholders(len(chunk), 2)})"
                " ORDER BY stream_id",
                after_stream,
                *chunk,
            )
            found += [
                Receipt(
                    room_id=row["room_id"],
                    receipt_type=row["receipt_type"],
                    user_id=row["user_id"],
                    thread_id=row["thread_id"] or None,
                    event_id=row["event_id"],
                    event_stream_ordering=int(row["event_stream_ordering"]),
                    ts=int(row["ts"]),
                    stream_id=int(row["stream_id"]),
                )
                for row in rows
            ]
        return found
