"""Account data storage (client-server API, "Client Config").

One row per (user, room, type); ``room_id`` is ``''`` for global account data. Every write takes a
position of the one global stream (``stream_id``), so ``changes`` after a sync token is exact.
"""

from __future__ import annotations

import json
from typing import Any

from transom.storage.database import Connection, Database

# The room_id column value for global account data.
GLOBAL = ""

JsonDict = dict[str, Any]


class AccountDataStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def put(
        conn: Connection,
        user_id: str,
        room_id: str | None,
        data_type: str,
        content: JsonDict,
        stream_id: int,
    ) -> None:
        """Insert or replace one entry (inside a stream write)."""
        await conn.execute(
            "INSERT INTO account_data (user_id, room_id, type, content, stream_id)"
            " VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (user_id, room_id, type)"
            " DO UPDATE SET content = $4, stream_id = $5",
            user_id,
            room_id or GLOBAL,
            data_type,
            json.dumps(content),
            stream_id,
        )

    async def get(
        self, user_id: str, data_type: str, room_id: str | None = None
    ) -> JsonDict | None:
        value = await self.db.fetchval(
            "SELECT content FROM account_data WHERE user_id = $1 AND room_id = $2 AND type = $3",
            user_id,
            room_id or GLOBAL,
            data_type,
        )
        return json.loads(value) if value is not None else None

    async def changes(
        self, user_id: str, after_stream: int
    ) -> tuple[dict[str, JsonDict], dict[str, dict[str, JsonDict]]]:
        """Entries written after ``after_stream``: (global by type, by room then type)."""
        rows = await self.db.fetch(
            "SELECT room_id, type, content FROM account_data"
            " WHERE user_id = $1 AND stream_id > $2 ORDER BY stream_id",
            user_id,
            after_stream,
        )
        global_data: dict[str, JsonDict] = {}
        rooms: dict[str, dict[str, JsonDict]] = {}
        for row in rows:
            content = json.loads(row["content"])
            if row["room_id"] == GLOBAL:
                global_data[row["type"]] = content
            else:
                rooms.setdefault(row["room_id"], {})[row["type"]] = content
        return global_data, rooms
