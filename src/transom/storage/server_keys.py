"""Cached signing keys of remote servers (server-server API "Retrieving server keys").

``server_keys`` holds one row per key with the time until which it may be used;
``server_key_responses`` the latest verified ``/_matrix/key/v2/server`` response per server,
verbatim, for the notary endpoints ("Querying Keys Through Another Server").
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from transom.storage.database import Database
from transom.storage.events import placeholders


@dataclass(frozen=True, slots=True)
class StoredKey:
    """One verification key. ``valid_until_ts`` is when it stops being usable; ``expired_ts``
    is set for keys the server lists under ``old_verify_keys``."""

    server_name: str
    key_id: str
    verify_key: str  # unpadded base64
    valid_until_ts: int
    expired_ts: int | None
    fetched_ts: int


class ServerKeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_keys(
        self, server_name: str, key_ids: Iterable[str] | None = None
    ) -> dict[str, StoredKey]:
        """The stored keys of ``server_name`` (all of them when ``key_ids`` is None)."""
        sql = (
            "SELECT server_name, key_id, verify_key, valid_until_ts, expired_ts, fetched_ts"
            " FROM server_keys WHERE server_name = $1"
        )
        args: list[Any] = [server_name]
        if key_ids is not None:
            ids = sorted(set(key_ids))
            if not ids:
                return {}
            sql += f" AND key_id IN ({placeholders(len(ids), start=2)})"
            args.extend(ids)
        rows = await self.db.fetch(sql, *args)
        return {
            row["key_id"]: StoredKey(
                row["server_name"],
                row["key_id"],
                row["verify_key"],
                row["valid_until_ts"],
                row["expired_ts"],
                row["fetched_ts"],
            )
            for row in rows
        }

    async def store_response(
        self, server_name: str, response: dict[str, Any], keys: Iterable[StoredKey], now: int
    ) -> None:
        """Record a verified key response and the keys read from it, in one transaction.

        A key's row is replaced by the newer information, except that a key once seen as
        expired stays expired (a server can't revive a key it retired)."""
        valid_until = response.get("valid_until_ts")
        async with self.db.transaction() as conn:
            for key in keys:
                await conn.execute(
                    "INSERT INTO server_keys (server_name, key_id, verify_key, valid_until_ts,"
                    " expired_ts, fetched_ts) VALUES ($1, $2, $3, $4, $5, $6)"
                    " ON CONFLICT (server_name, key_id) DO UPDATE SET"
                    " verify_key = excluded.verify_key,"
                    " valid_until_ts = CASE WHEN server_keys.expired_ts IS NULL"
                    "   THEN excluded.valid_until_ts ELSE server_keys.valid_until_ts END,"
                    " expired_ts = COALESCE(server_keys.expired_ts, excluded.expired_ts),"
                    " fetched_ts = excluded.fetched_ts",
                    key.server_name, key.key_id, key.verify_key, key.valid_until_ts,
                    key.expired_ts, key.fetched_ts,
                )  # fmt: skip
            await conn.execute(
                "INSERT INTO server_key_responses (server_name, valid_until_ts, fetched_ts, json)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (server_name) DO UPDATE SET"
                " valid_until_ts = excluded.valid_until_ts, fetched_ts = excluded.fetched_ts,"
                " json = excluded.json",
                server_name,
                valid_until if isinstance(valid_until, int) else 0,
                now,
                json.dumps(response, ensure_ascii=False, separators=(",", ":")),
            )

    async def get_response(self, server_name: str) -> tuple[dict[str, Any], int] | None:
        """The latest stored key response of ``server_name`` and its ``valid_until_ts``."""
        row = await self.db.fetchrow(
            "SELECT json, valid_until_ts FROM server_key_responses WHERE server_name = $1",
            server_name,
        )
        if row is None:
            return None
        return json.loads(row["json"]), row["valid_until_ts"]
