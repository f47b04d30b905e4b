"""Shared-secret registration, compatible with Synapse's ``/_synapse/admin/v1/register``.

Not part of the Matrix spec: Synapse's admin API, kept so ``register_new_matrix_user`` and
``transom register-user`` work. A client fetches a single-use nonce, then posts the user with
``mac = HMAC-SHA1(secret, nonce \\0 username \\0 password \\0 admin|notadmin [\\0 user_type])``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from transom.services.accounts import AccountsService, LoginSession
from transom.services.clock import Clock
from transom.services.errors import Forbidden, UnknownError

NONCE_LIFETIME_S = 60.0


class SharedSecretRegistration:
    def __init__(self, secret: str | None, accounts: AccountsService, clock: Clock) -> None:
        self._secret = secret
        self._accounts = accounts
        self._clock = clock
        self._nonces: dict[str, float] = {}

    def _require_enabled(self) -> str:
        if not self._secret:
            raise UnknownError("Shared secret registration is not enabled")
        return self._secret

    def new_nonce(self) -> str:
        self._require_enabled()
        now = self._clock.time()
        for nonce in [n for n, t in self._nonces.items() if now - t > NONCE_LIFETIME_S]:
            del self._nonces[nonce]
        nonce = secrets.token_hex(32)
        self._nonces[nonce] = now
        return nonce

    async def register(
        self,
        *,
        nonce: str,
        username: str,
        password: str,
        admin: bool,
        user_type: str | None,
        mac: str,
    ) -> LoginSession:
        secret = self._require_enabled()
        created = self._nonces.pop(nonce, None)  # single use, even when the MAC is wrong
        if created is None or self._clock.time() - created > NONCE_LIFETIME_S:
            raise UnknownError("unrecognised nonce")
        parts = [nonce, username, password, "admin" if admin else "notadmin"]
        if user_type is not None:
            parts.append(user_type)
        want = hmac.new(secret.encode(), "\x00".join(parts).encode(), hashlib.sha1).hexdigest()
        if not hmac.compare_digest(want.encode(), mac.encode()):
            raise Forbidden("HMAC incorrect")
        return await self._accounts.create_account(username, password, admin=admin)
