"""Received federation transactions (server-server API "Transactions"): the response sent for
each ``(origin, txn_id)``, so that a retried ``PUT /send/{txnId}`` is not processed twice."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from transom.storage.database import Database, IntegrityError


class InboundTransactionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_response(self, origin: str, txn_id: str) -> dict[str, Any] | None:
        value = await self.db.fetchval(
            "SELECT response FROM federation_inbound_txns WHERE origin = $1 AND txn_id = $2",
            origin,
            txn_id,
        )
        if value is None:
            return None
        response: dict[str, Any] = json.loads(value)
        return response

    async def set_response(
        self, origin: str, txn_id: str, response: dict[str, Any], now_ms: int
    ) -> None:
        # The same transaction answered concurrently: keep the first answer.
        with contextlib.suppress(IntegrityError):
            await self.db.execute(
                "INSERT INTO federation_inbound_txns (origin, txn_id, response, received_ts)"
                " VALUES ($1, $2, $3, $4)",
                origin,
                txn_id,
                json.dumps(response),
                now_ms,
            )

    async def delete_older_than(self, ts: int) -> None:
        await self.db.execute("DELETE FROM federation_inbound_txns WHERE received_ts < $1", ts)
