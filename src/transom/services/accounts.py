"""Accounts: registration, login, logout, access tokens, passwords, deactivation and devices.

Spec: client-server API, "Account registration and management", "Login", "Logout",
"Client authentication" (access tokens) and "Device management"; user ID grammar from the
appendix "User Identifiers". Stage checks for user-interactive auth live here too.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from transom.services.clock import Clock
from transom.services.errors import (
    Forbidden,
    InvalidUsername,
    NotFound,
    UnknownError,
    UnknownToken,
    UserDeactivated,
    UserInUse,
)
from transom.services.passwords import PasswordHasher
from transom.services.ratelimit import RateLimiters
from transom.services.uia import InteractiveAuth
from transom.storage.accounts import AccountStore, DeviceRecord, UserExistsError

# Appendix "User Identifiers": localparts of new users use a-z 0-9 . _ = - / +
_LOCALPART_RE = re.compile(r"^[a-z0-9._=\-/+]+$")
# Appendix "User Identifiers": the whole user ID is at most 255 bytes.
MAX_USER_ID_LENGTH = 255
MAX_PASSWORD_LENGTH = 512
# How often the last-seen time of a device is written (seconds).
_SEEN_INTERVAL_S = 60.0

DeactivateCallback = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Requester:
    """Who made an authenticated request."""

    user_id: str
    device_id: str | None
    access_token: str


@dataclass(frozen=True, slots=True)
class LoginSession:
    """The result of registration or login; token and device are None with ``inhibit_login``."""

    user_id: str
    access_token: str | None
    device_id: str | None


def _random_device_id() -> str:
    return "".join(secrets.choice(string.ascii_uppercase) for _ in range(10))


class AccountsService:
    def __init__(
        self,
        server_name: str,
        store: AccountStore,
        hasher: PasswordHasher,
        clock: Clock,
        limiters: RateLimiters,
        uia: InteractiveAuth,
    ) -> None:
        self.server_name = server_name
        self._store = store
        self._hasher = hasher
        self._clock = clock
        self._limiters = limiters
        self._uia = uia
        self._seen: dict[tuple[str, str | None], float] = {}
        # Called with the user ID after an account is deactivated (hook point for later features,
        # such as rescinding the user's pending knocks).
        self.on_deactivate: list[DeactivateCallback] = []

    # ------------------------------------------------------------------ identifiers

    def user_id_for(self, localpart: str) -> str:
        return f"@{localpart}:{self.server_name}"

    def validate_new_localpart(self, localpart: str) -> str:
        """Lower-case and check a requested localpart (appendix "User Identifiers")."""
        localpart = localpart.lower()
        if not localpart or not _LOCALPART_RE.match(localpart):
            raise InvalidUsername("User ID can only contain characters a-z, 0-9, or '._=-/+'")
        if localpart.startswith("_"):
            raise InvalidUsername("User ID may not begin with '_'")
        if len(self.user_id_for(localpart).encode()) > MAX_USER_ID_LENGTH:
            raise InvalidUsername(f"User ID may not be longer than {MAX_USER_ID_LENGTH} bytes")
        return localpart

    async def check_username_available(self, localpart: str) -> str:
        """Raise ``InvalidUsername``/``UserInUse`` unless ``localpart`` can be registered."""
        localpart = self.validate_new_localpart(localpart)
        user_id = self.user_id_for(localpart)
        if await self._store.user_exists_case_insensitive(user_id):
            raise UserInUse("User ID already taken.")
        return user_id

    # ------------------------------------------------------------------ access tokens

    async def authenticate(self, token: str, ip: str | None) -> Requester:
        """Resolve an access token (spec "Client authentication"); unknown: M_UNKNOWN_TOKEN."""
        owner = await self._store.get_token_owner(token)
        if owner is None or owner.deactivated:
            raise UnknownToken("Unknown access token")
        now = self._clock.time()
        key = (token, ip)
        if owner.device_id and now - self._seen.get(key, 0.0) >= _SEEN_INTERVAL_S:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[key] = now
            await self._store.record_device_seen(
                owner.user_id, owner.device_id, self._clock.time_msec(), ip
            )
        return Requester(owner.user_id, owner.device_id, token)

    async def is_admin(self, user_id: str) -> bool:
        return await self._store.is_admin(user_id)

    async def _issue(
        self, user_id: str, device_id: str | None, display_name: str | None
    ) -> LoginSession:
        """Create (or re-use) a device and a new access token for it (spec "Login": re-using a
        ``device_id`` invalidates the access tokens previously associated with that device)."""
        now = self._clock.time_msec()
        device_id = device_id or _random_device_id()
        existing = await self._store.get_device(user_id, device_id)
        if existing is not None:
            await self._store.delete_device(user_id, device_id)
            display_name = display_name if display_name is not None else existing.display_name
        await self._store.create_device(user_id, device_id, display_name, created_ts=now)
        token = secrets.token_urlsafe(32)
        await self._store.create_access_token(token, user_id, device_id, created_ts=now)
        return LoginSession(user_id, token, device_id)

    # ------------------------------------------------------------------ registration

    async def create_account(
        self,
        localpart: str | None,
        password: str | None,
        *,
        admin: bool = False,
        device_id: str | None = None,
        display_name: str | None = None,
        inhibit_login: bool = False,
    ) -> LoginSession:
        """Create a user (and, unless ``inhibit_login``, a device and access token)."""
        if localpart is None:
            localpart = await self._free_localpart()
        user_id = await self.check_username_available(localpart)
        password_hash = await self._hasher.hash(password) if password is not None else None
        try:
            await self._store.create_user(
                user_id, password_hash, admin=admin, creation_ts=self._clock.time_msec()
            )
        except UserExistsError:
            raise UserInUse("User ID already taken.") from None
        if inhibit_login:
            return LoginSession(user_id, None, None)
        return await self._issue(user_id, device_id, display_name)

    async def _free_localpart(self) -> str:
        while True:
            localpart = secrets.token_hex(6)
            if not await self._store.user_exists_case_insensitive(self.user_id_for(localpart)):
                return localpart

    async def register(
        self,
        *,
        enabled: bool,
        ip: str,
        auth: Any,
        username: str | None,
        password: str | None,
        device_id: str | None,
        display_name: str | None,
        inhibit_login: bool,
    ) -> LoginSession:
        """``POST /register`` for ``kind=user``, with the ``m.login.dummy`` UIA flow."""
        if not enabled:
            raise Forbidden("Registration has been disabled")
        self._limiters.registration.check(ip)
        if username is not None:
            await self.check_username_available(username)
        await self._uia.check(auth, [["m.login.dummy"]], {"m.login.dummy": _dummy_stage})
        return await self.create_account(
            username,
            password,
            device_id=device_id,
            display_name=display_name,
            inhibit_login=inhibit_login,
        )

    # ------------------------------------------------------------------ login / logout

    def _resolve_login_user(self, identifier: Any, legacy_user: Any) -> str:
        """Spec "Identifier types": ``m.id.user`` with a localpart or full user ID."""
        if identifier is None:
            user = legacy_user
        elif isinstance(identifier, dict) and identifier.get("type") == "m.id.user":
            user = identifier.get("user")
        elif isinstance(identifier, dict):
            raise UnknownError("Unknown login identifier type")
        else:
            raise UnknownError("'identifier' must be an object")
        if not isinstance(user, str) or not user:
            raise UnknownError("User identifier is missing 'user' key")
        if user.startswith("@"):
            if not user.lower().endswith(":" + self.server_name.lower()):
                raise Forbidden("Invalid username or password")
            return user.lower()
        return self.user_id_for(user.lower())

    async def login_password(
        self,
        *,
        ip: str,
        identifier: Any,
        legacy_user: Any,
        password: str,
        device_id: str | None,
        display_name: str | None,
    ) -> LoginSession:
        """``POST /login`` with ``m.login.password`` (spec "Password-based")."""
        self._limiters.login_address.check(ip)
        user_id = self._resolve_login_user(identifier, legacy_user)
        self._limiters.login_account.check(user_id)
        self._limiters.login_failed_attempts.check(user_id, update=False)
        user = await self._store.get_user(user_id)
        if user is None or not await self._hasher.verify(password, user.password_hash):
            self._limiters.login_failed_attempts.record(user_id)
            raise Forbidden("Invalid username or password")
        if user.deactivated:
            raise UserDeactivated("This account has been deactivated")
        return await self._issue(user.user_id, device_id, display_name)

    async def logout(self, requester: Requester) -> None:
        """Spec "Logout": invalidate the token and delete its device."""
        if requester.device_id:
            await self._store.delete_device(requester.user_id, requester.device_id)
        await self._store.delete_access_token(requester.access_token)

    async def logout_all(self, requester: Requester) -> None:
        devices = await self._store.list_devices(requester.user_id)
        await self._store.delete_devices(requester.user_id, [d.device_id for d in devices])
        await self._store.delete_all_tokens(requester.user_id)

    # ------------------------------------------------------------------ UIA-protected actions

    async def _require_password(self, requester: Requester, auth: Any) -> None:
        async def password_stage(stage: dict[str, Any]) -> str | None:
            user_id = self._resolve_login_user(stage.get("identifier"), stage.get("user"))
            password = stage.get("password")
            if user_id != requester.user_id.lower() or not isinstance(password, str):
                raise Forbidden("Invalid username or password")
            user = await self._store.get_user(requester.user_id)
            if user is None or not await self._hasher.verify(password, user.password_hash):
                raise Forbidden("Invalid password")
            return user_id

        await self._uia.check(auth, [["m.login.password"]], {"m.login.password": password_stage})

    async def change_password(
        self, requester: Requester, auth: Any, new_password: str, logout_devices: bool
    ) -> None:
        """Spec "Password management": ``logout_devices`` revokes every other token and device."""
        await self._require_password(requester, auth)
        await self._store.set_password_hash(
            requester.user_id, await self._hasher.hash(new_password)
        )
        if logout_devices:
            devices = await self._store.list_devices(requester.user_id)
            others = [d.device_id for d in devices if d.device_id != requester.device_id]
            await self._store.delete_devices(requester.user_id, others)
            await self._store.delete_all_tokens(
                requester.user_id, except_token=requester.access_token
            )

    async def deactivate(self, requester: Requester, auth: Any) -> None:
        """Spec "Account deactivation": the account can no longer log in; its tokens go."""
        await self._require_password(requester, auth)
        await self.deactivate_user(requester.user_id)

    async def deactivate_user(self, user_id: str) -> None:
        await self._store.set_deactivated(user_id, True)
        await self._store.set_password_hash(user_id, None)
        devices = await self._store.list_devices(user_id)
        await self._store.delete_devices(user_id, [d.device_id for d in devices])
        await self._store.delete_all_tokens(user_id)
        for callback in self.on_deactivate:
            await callback(user_id)

    # ------------------------------------------------------------------ devices

    async def list_devices(self, requester: Requester) -> list[DeviceRecord]:
        return await self._store.list_devices(requester.user_id)

    async def get_device(self, requester: Requester, device_id: str) -> DeviceRecord:
        device = await self._store.get_device(requester.user_id, device_id)
        if device is None:
            raise NotFound("Device not found")
        return device

    async def update_device(
        self, requester: Requester, device_id: str, display_name: str | None
    ) -> None:
        """Spec "PUT /devices/{deviceId}": regular clients may only update existing devices."""
        await self.get_device(requester, device_id)
        if display_name is not None:
            await self._store.update_device(requester.user_id, device_id, display_name)

    async def delete_devices(self, requester: Requester, auth: Any, device_ids: list[str]) -> None:
        """Spec "DELETE /devices/{deviceId}" and "POST /delete_devices" (UIA-protected)."""
        await self._require_password(requester, auth)
        await self._store.delete_devices(requester.user_id, device_ids)

    async def delete_device(self, requester: Requester, auth: Any, device_id: str) -> None:
        await self.get_device(requester, device_id)
        await self.delete_devices(requester, auth, [device_id])


async def _dummy_stage(auth: dict[str, Any]) -> str | None:
    """``m.login.dummy`` always succeeds (spec "Dummy Auth")."""
    return None
