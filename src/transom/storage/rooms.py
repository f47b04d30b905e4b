"""Rooms this server knows: their version, creator, directory visibility and aliases.

A room's version never changes (room versions: a room is upgraded by replacing it), so it is
cached once read, and concurrent first reads of one room share a single query.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from transom.core.room_versions import RoomVersion, get_room_version
from transom.storage.database import Connection, Database, IntegrityError


class AliasExistsError(Exception):
    """The room alias is already mapped to a room."""


@dataclass(frozen=True, slots=True)
class RoomRecord:
    room_id: str
    room_version: RoomVersion
    creator: str
    created_ts: int
    is_public: bool


class RoomStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._versions: dict[str, RoomVersion] = {}
        # First reads in progress: room ID -> the version found (None: unknown, or it failed).
        self._reading: dict[str, asyncio.Future[RoomVersion | None]] = {}

    async def store_room(
        self,
        conn: Connection,
        room_id: str,
        room_version: RoomVersion,
        creator: str,
        created_ts: int,
    ) -> None:
        """Record a room (inside the transaction that persists its create event)."""
        await conn.execute(
            "INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (room_id) DO NOTHING",
            room_id,
            room_version.identifier,
            creator,
            created_ts,
        )

    async def get_room_version(self, room_id: str) -> RoomVersion | None:
        cached = self._versions.get(room_id)
        if cached is not None:
            return cached
        reading = self._reading.get(room_id)
        if reading is not None:
            # Only a found version is shared: rooms are never deleted, so it holds for every
            # waiter, while "unknown" may predate the room's creation committed since.
            shared = await asyncio.shield(reading)
            if shared is not None:
                return shared
        future: asyncio.Future[RoomVersion | None] = asyncio.get_running_loop().create_future()
        self._reading[room_id] = future
        outcome: RoomVersion | None = None
        try:
            value = await self.db.fetchval(
                "SELECT room_version FROM rooms WHERE room_id = $1", room_id
            )
            version = None if value is None else get_room_version(value)
            if version is not None:
                self._versions[room_id] = version
            outcome = version
            return version
        finally:
            if self._reading.get(room_id) is future:
                del self._reading[room_id]
            future.set_result(outcome)

    async def get_room(self, room_id: str) -> RoomRecord | None:
        row = await self.db.fetchrow("SELECT * FROM rooms WHERE room_id = $1", room_id)
        if row is None:
            return None
        return RoomRecord(
            room_id=row["room_id"],
            room_version=get_room_version(row["room_version"]),
            creator=row["creator"],
            created_ts=int(row["created_ts"]),
            is_public=bool(row["is_public"]),
        )

    async def set_public(self, room_id: str, is_public: bool) -> None:
        await self.db.execute(
            "UPDATE rooms SET is_public = $2 WHERE room_id = $1", room_id, is_public
        )

    async def public_room_ids(self) -> list[str]:
        rows = await self.db.fetch(
            "SELECT room_id FROM rooms WHERE is_public = TRUE ORDER BY created_ts, room_id"
        )
        return [row["room_id"] for row in rows]

    # Aliases ----------------------------------------------------------------------------------

    async def create_alias(self, alias: str, room_id: str, creator: str) -> None:
        try:
            await self.db.execute(
                "INSERT INTO room_aliases (room_alias, room_id, creator) VALUES ($1, $2, $3)",
                alias,
                room_id,
                creator,
            )
        except IntegrityError:
            raise AliasExistsError(alias) from None

    async def get_alias(self, alias: str) -> tuple[str, str] | None:
        """(room_id, creator) of an alias."""
        row = await self.db.fetchrow(
            "SELECT room_id, creator FROM room_aliases WHERE room_alias = $1", alias
        )
        return (row["room_id"], row["creator"]) if row is not None else None

    async def delete_alias(self, alias: str) -> None:
        await self.db.execute("DELETE FROM room_aliases WHERE room_alias = $1", alias)

    async def aliases_for_room(self, room_id: str) -> list[str]:
        rows = await self.db.fetch(
            "SELECT room_alias FROM room_aliases WHERE room_id = $1 ORDER BY room_alias", room_id
        )
        return [row["room_alias"] for row in rows]
