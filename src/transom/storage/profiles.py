"""Users' global profiles (client-server API "Profiles")."""

from __future__ import annotations

from transom.storage.database import Database


class ProfileStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_profile(self, user_id: str) -> dict[str, str] | None:
        """``{"displayname": ..., "avatar_url": ...}`` with unset fields left out; None if none."""
        row = await self.db.fetchrow(
            "SELECT displayname, avatar_url FROM profiles WHERE user_id = $1", user_id
        )
        if row is None:
            return None
        return {k: row[k] for k in ("displayname", "avatar_url") if row[k] is not None}

    async def set_field(self, user_id: str, field: str, value: str | None) -> None:
        if field not in ("displayname", "avatar_url"):
            raise ValueError(field)
        await self.db.execute(
            f"INSERT INTO profiles (user_id, {field}) VALUES ($1, $2)"
            f" ON CONFLICT (user_id) DO UPDATE SET {field} = excluded.{field}",
            user_id,
            value,
        )
