"""Storage of the outbound federation queue and per-destination retry state.

Spec: server-server API "Transactions" (a transaction carries at most 50 PDUs and 100 EDUs);
the persistence itself is the project's own contract (architecture guide, habit 7: outbound
federation goes through per-destination queues that survive a restart).

Invariant: row ids grow in the order items were queued, so reading a destination's rows by id
sends its PDUs and EDUs in the order they were produced.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from transom.storage.database import Database
from transom.storage.events import placeholders

PDU = "pdu"
EDU = "edu"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    destination: str
    kind: str  # PDU or EDU
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RetryState:
    """A destination that failed: wait until ``retry_after_ts`` before the next attempt."""

    failure_count: int
    retry_interval_ms: int
    retry_after_ts: int


class FederationOutbox:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = asyncio.Lock()
        self._next_id = 0

    async def setup(self) -> None:
        value = await self.db.fetchval("SELECT MAX(id) FROM federation_outbox")
        self._next_id = int(value or 0) + 1

    async def enqueue(self, destinations: Sequence[str], kind: str, data: dict[str, Any]) -> None:
        """Queue one item for each destination, atomically."""
        if not destinations:
            return
        text = json.dumps(data, separators=(",", ":"))
        async with self._lock:
            start = self._next_id
            self._next_id += len(destinations)
            rows = [(start + i, d, kind, text) for i, d in enumerate(destinations)]
            async with self.db.transaction() as conn:
                await conn.executemany(
                    "INSERT INTO federation_outbox (id, destination, kind, json)"
                    " VALUES ($1, $2, $3, $4)",
                    rows,
                )

    async def pending(self, destination: str, kind: str, limit: int) -> list[OutboxItem]:
        rows = await self.db.fetch(
            "SELECT id, destination, kind, json FROM federation_outbox"
            " WHERE destination = $1 AND kind = $2 ORDER BY id LIMIT $3",
            destination,
            kind,
            limit,
        )
        return [
            OutboxItem(int(r["id"]), r["destination"], r["kind"], json.loads(r["json"]))
            for r in rows
        ]

    async def remove(self, ids: Sequence[int]) -> None:
        if ids:
            await self.db.execute(
                f"DELETE FROM federation_outbox WHERE id IN ({placeholders(len(ids))})", *ids
            )

    async def count(self, destination: str) -> int:
        value = await self.db.fetchval(
            "SELECT COUNT(*) FROM federation_outbox WHERE destination = $1", destination
        )
        return int(value or 0)

    async def destinations_with_pending(self) -> list[str]:
        rows = await self.db.fetch("SELECT DISTINCT destination FROM federation_outbox")
        return sorted(r["destination"] for r in rows)

    # Retry state ------------------------------------------------------------------------------

    async def get_retry(self, destination: str) -> RetryState | None:
        row = await self.db.fetchrow(
            "SELECT failure_count, retry_interval_ms, retry_after_ts"
            " FROM federation_destinations WHERE destination = $1",
            destination,
        )
        if row is None:
            return None
        return RetryState(
            int(row["failure_count"]), int(row["retry_interval_ms"]), int(row["retry_after_ts"])
        )

    async def set_retry(self, destination: str, state: RetryState | None) -> None:
        if state is None:
            await self.db.execute(
                "DELETE FROM federation_destinations WHERE destination = $1", destination
            )
            return
        await self.db.execute(
            "INSERT INTO federation_destinations"
            " (destination, failure_count, retry_interval_ms, retry_after_ts)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (destination) DO UPDATE SET"
            " failure_count = excluded.failure_count,"
            " retry_interval_ms = excluded.retry_interval_ms,"
            " retry_after_ts = excluded.retry_after_ts",
            destination,
            state.failure_count,
            state.retry_interval_ms,
            state.retry_after_ts,
        )
