"""Password hashing with bcrypt (client-server API, "Password-based" login).

Hashing is deliberately slow, so it runs in a thread pool: bcrypt releases the GIL, letting the
event loop keep serving while every core hashes.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor

import bcrypt


class PasswordHasher:
    def __init__(self, rounds: int, executor: Executor | None = None) -> None:
        self.rounds = rounds
        self._executor = executor

    def _hash(self, password: str) -> str:
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(self.rounds)).decode("ascii")

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._hash, password)

    async def verify(self, password: str, password_hash: str | None) -> bool:
        """Whether ``password`` matches ``password_hash`` (``None``: the account has none)."""
        if not password_hash:
            return False
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, bcrypt.checkpw, password.encode(), password_hash.encode("ascii")
        )
