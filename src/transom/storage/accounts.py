"""Accounts storage: users, devices and access tokens.

Spec: Client-Server API, "Account registration and management" (registration, deactivation,
password change), "Login" (access tokens, device_id re-use) and "Device management"
(`/devices`). User IDs are compared case-insensitively when checking for clashes, as the
"User Identifiers" appendix advises servers to reject IDs that differ only by case.

Setters on a user or device that does not exist do nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from transom.storage.database import Database, IntegrityError, Row


class UserExistsError(Exception):
    """The user ID (or one differing from it only by case) is already registered."""


@dataclass(frozen=True)
class UserRecord:
    user_id: str
    password_hash: str | None
    admin: bool
    deactivated: bool
    creation_ts: int


@dataclass(frozen=True)
class DeviceRecord:
    device_id: str
    user_id: str
    display_name: str | None
    last_seen_ts: int | None
    last_seen_ip: str | None


@dataclass(frozen=True)
class TokenOwner:
    user_id: str
    device_id: str | None
    deactivated: bool


def _device(row: Row) -> DeviceRecord:
    return DeviceRecord(
        device_id=row["device_id"],
        user_id=row["user_id"],
        display_name=row["display_name"],
        last_seen_ts=row["last_seen_ts"],
        last_seen_ip=row["last_seen_ip"],
    )


_DEVICE_COLUMNS = "device_id, user_id, display_name, last_seen_ts, last_seen_ip"


# Most access tokens (and admin flags) remembered; past this the caches start afresh.
_CACHE_LIMIT = 50_000


class AccountStore:
    """Users, devices and tokens. Every request resolves its access token, and every message
    checks the sender's admin flag, so both are cached here, where every write to them happens:
    each write drops what it may change before it returns, and a read that raced with a write
    (started before it, finished after) is not cached.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._tokens: dict[str, TokenOwner] = {}
        self._admins: dict[str, bool] = {}
        self._generation = 0  # bumped by every invalidation

    def _invalidate_user(self, user_id: str) -> None:
        self._generation += 1
        self._admins.pop(user_id, None)
        for token in [t for t, o in self._tokens.items() if o.user_id == user_id]:
            del self._tokens[token]

    def _invalidate_tokens(self, user_id: str, keep: str | None = None) -> None:
        self._generation += 1
        gone = [t for t, o in self._tokens.items() if o.user_id == user_id and t != keep]
        for token in gone:
            del self._tokens[token]

    # -- users --------------------------------------------------------------------------------

    async def create_user(
        self,
        user_id: str,
        password_hash: str | None,
        *,
        admin: bool = False,
        creation_ts: int,
    ) -> None:
        """Register `user_id`; raise UserExistsError if it clashes (case-insensitively)."""
        try:
            await self._db.execute(
                "INSERT INTO users (user_id, user_id_lower, password_hash, admin, deactivated,"
                " creation_ts) VALUES ($1, $2, $3, $4, FALSE, $5)",
                user_id,
                user_id.lower(),
                password_hash,
                admin,
                creation_ts,
            )
        except IntegrityError as e:
            raise UserExistsError(user_id) from e

    async def is_admin(self, user_id: str) -> bool:
        cached = self._admins.get(user_id)
        if cached is not None:
            return cached
        generation = self._generation
        user = await self.get_user(user_id)
        admin = bool(user and user.admin)
        if user is not None and generation == self._generation:
            if len(self._admins) >= _CACHE_LIMIT:
                self._admins.clear()
            self._admins[user_id] = admin
        return admin

    async def get_user(self, user_id: str) -> UserRecord | None:
        row = await self._db.fetchrow(
            "SELECT user_id, password_hash, admin, deactivated, creation_ts"
            " FROM users WHERE user_id = $1",
            user_id,
        )
        if row is None:
            return None
        return UserRecord(
            user_id=row["user_id"],
            password_hash=row["password_hash"],
            admin=bool(row["admin"]),
            deactivated=bool(row["deactivated"]),
            creation_ts=row["creation_ts"],
        )

    async def user_exists_case_insensitive(self, user_id: str) -> bool:
        found = await self._db.fetchval(
            "SELECT 1 FROM users WHERE user_id_lower = $1", user_id.lower()
        )
        return found is not None

    async def set_password_hash(self, user_id: str, password_hash: str | None) -> None:
        await self._db.execute(
            "UPDATE users SET password_hash = $2 WHERE user_id = $1", user_id, password_hash
        )

    async def set_deactivated(self, user_id: str, deactivated: bool = True) -> None:
        self._invalidate_user(user_id)
        await self._db.execute(
            "UPDATE users SET deactivated = $2 WHERE user_id = $1", user_id, deactivated
        )
        self._invalidate_user(user_id)

    async def set_admin(self, user_id: str, admin: bool) -> None:
        self._invalidate_user(user_id)
        await self._db.execute("UPDATE users SET admin = $2 WHERE user_id = $1", user_id, admin)
        self._invalidate_user(user_id)

    # -- devices ------------------------------------------------------------------------------

    async def create_device(
        self, user_id: str, device_id: str, display_name: str | None, *, created_ts: int
    ) -> None:
        """Create the device; if it already exists (re-login with its ID) keep it unchanged."""
        await self._db.execute(
            "INSERT INTO devices (user_id, device_id, display_name, created_ts)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, device_id) DO NOTHING",
            user_id,
            device_id,
            display_name,
            created_ts,
        )

    async def get_device(self, user_id: str, device_id: str) -> DeviceRecord | None:
        row = await self._db.fetchrow(
            f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE user_id = $1 AND device_id = $2",
            user_id,
            device_id,
        )
        return None if row is None else _device(row)

    async def list_devices(self, user_id: str) -> list[DeviceRecord]:
        rows = await self._db.fetch(
            f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE user_id = $1 ORDER BY device_id",
            user_id,
        )
        return [_device(row) for row in rows]

    async def update_device(self, user_id: str, device_id: str, display_name: str | None) -> None:
        await self._db.execute(
            "UPDATE devices SET display_name = $3 WHERE user_id = $1 AND device_id = $2",
            user_id,
            device_id,
            display_name,
        )

    async def delete_device(self, user_id: str, device_id: str) -> None:
        """Delete the device and every access token issued to it."""
        await self.delete_devices(user_id, [device_id])

    async def delete_devices(self, user_id: str, device_ids: Iterable[str]) -> None:
        """Delete the devices and their access tokens, atomically."""
        params = [(user_id, device_id) for device_id in device_ids]
        if not params:
            return
        self._drop_device_tokens(user_id, {d for _, d in params})
        async with self._db.transaction() as conn:
            await conn.executemany(
                "DELETE FROM access_tokens WHERE user_id = $1 AND device_id = $2", params
            )
            await conn.executemany(
                "DELETE FROM devices WHERE user_id = $1 AND device_id = $2", params
            )
        self._drop_device_tokens(user_id, {d for _, d in params})

    def _drop_device_tokens(self, user_id: str, device_ids: set[str]) -> None:
        self._generation += 1
        gone = [
            t for t, o in self._tokens.items() if o.user_id == user_id and o.device_id in device_ids
        ]
        for token in gone:
            del self._tokens[token]

    async def record_device_seen(
        self, user_id: str, device_id: str, ts: int, ip: str | None
    ) -> None:
        await self._db.execute(
            "UPDATE devices SET last_seen_ts = $3, last_seen_ip = $4"
            " WHERE user_id = $1 AND device_id = $2",
            user_id,
            device_id,
            ts,
            ip,
        )

    # -- access tokens ------------------------------------------------------------------------

    async def create_access_token(
        self, token: str, user_id: str, device_id: str | None, *, created_ts: int
    ) -> None:
        await self._db.execute(
            "INSERT INTO access_tokens (token, user_id, device_id, created_ts)"
            " VALUES ($1, $2, $3, $4)",
            token,
            user_id,
            device_id,
            created_ts,
        )

    async def get_token_owner(self, token: str) -> TokenOwner | None:
        cached = self._tokens.get(token)
        if cached is not None:
            return cached
        generation = self._generation
        owner = await self._read_token_owner(token)
        if owner is not None and generation == self._generation:
            if len(self._tokens) >= _CACHE_LIMIT:
                self._tokens.clear()
            self._tokens[token] = owner
        return owner

    async def _read_token_owner(self, token: str) -> TokenOwner | None:
        row = await self._db.fetchrow(
            "SELECT t.user_id, t.device_id, u.deactivated FROM access_tokens AS t"
            " JOIN users AS u ON u.user_id = t.user_id WHERE t.token = $1",
            token,
        )
        if row is None:
            return None
        return TokenOwner(
            user_id=row["user_id"], device_id=row["device_id"], deactivated=bool(row[2])
        )

    async def delete_access_token(self, token: str) -> None:
        self._generation += 1
        self._tokens.pop(token, None)
        await self._db.execute("DELETE FROM access_tokens WHERE token = $1", token)
        self._generation += 1
        self._tokens.pop(token, None)

    async def delete_all_tokens(self, user_id: str, except_token: str | None = None) -> None:
        """Delete every token of `user_id`, keeping `except_token` if given."""
        self._invalidate_tokens(user_id, except_token)
        try:
            await self._delete_all_tokens(user_id, except_token)
        finally:
            self._invalidate_tokens(user_id, except_token)

    async def _delete_all_tokens(self, user_id: str, except_token: str | None) -> None:
        if except_token is None:
            await self._db.execute("DELETE FROM access_tokens WHERE user_id = $1", user_id)
        else:
            await self._db.execute(
                "DELETE FROM access_tokens WHERE user_id = $1 AND token <> $2",
                user_id,
                except_token,
            )
