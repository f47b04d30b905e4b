"""What a benchmark phase is, and the shared state phases build on.

A phase has an unmeasured ``prepare`` (create the users and rooms it needs, through the standard
Client-Server API so it works against any homeserver) and a measured ``operation(i)`` run
``count`` times by the load generator. Server CPU and RSS are sampled only around the measured
part. Adding a phase is one subclass and one line in ``bench/phases/__init__.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from bench.load import JsonDict, MatrixClient, RequestFailed, q

T = TypeVar("T")


@dataclass
class User:
    localpart: str
    user_id: str
    token: str


@dataclass
class Settings:
    """Sizes of each phase, from the command line."""

    users: int = 200
    concurrency: int = 10
    rooms: int = 100
    messages: int = 500
    sync_rooms: int = 50
    syncs: int = 20
    knocks: int = 1000
    knock_rooms: int = 50
    federated_knocks: int = 50
    password: str = "bench-password-1"


@dataclass
class Context:
    """Everything phases share during a run against one homeserver."""

    client: MatrixClient
    settings: Settings
    prefix: str
    peer: MatrixClient | None = None
    peer_server_name: str | None = None
    users: list[User] = field(default_factory=list)
    rooms: list[str] = field(default_factory=list)
    scratch: dict[str, object] = field(default_factory=dict)
    _user_counter: int = 0

    def next_localpart(self, tag: str = "u") -> str:
        self._user_counter += 1
        return f"{self.prefix}{tag}{self._user_counter}"


class Phase:
    """Base class: subclasses set ``name`` and ``description`` and override the hooks."""

    name = "phase"
    description = ""
    needs_peer = False

    async def prepare(self, ctx: Context) -> None:
        """Unmeasured set-up."""

    def count(self, ctx: Context) -> int:
        raise NotImplementedError

    async def operation(self, ctx: Context, index: int) -> None:
        raise NotImplementedError


async def register(client: MatrixClient, localpart: str, password: str) -> User:
    """Register with ``m.login.dummy`` (spec "Account registration", "Dummy Auth").

    Sends the auth dict with the first request; if the server insists on a user-interactive
    session first (401 with ``session``), completes the dummy stage in that session.
    """
    body: JsonDict = {
        "username": localpart,
        "password": password,
        "auth": {"type": "m.login.dummy"},
        "inhibit_login": False,
    }
    status, data = await client.request("POST", "/_matrix/client/v3/register", body, ok=(200, 401))
    if status == 401:
        body["auth"] = {"type": "m.login.dummy", "session": data["session"]}
        _, data = await client.request("POST", "/_matrix/client/v3/register", body)
    return User(localpart, data["user_id"], data["access_token"])


async def ensure_users(ctx: Context, wanted: int) -> list[User]:
    """Register users until ``ctx.users`` holds at least ``wanted``; return the first ``wanted``."""
    missing = wanted - len(ctx.users)
    if missing > 0:
        limit = asyncio.Semaphore(ctx.settings.concurrency)

        async def one() -> User:
            async with limit:
                return await register(ctx.client, ctx.next_localpart(), ctx.settings.password)

        ctx.users.extend(await asyncio.gather(*(one() for _ in range(missing))))
    return ctx.users[:wanted]


async def create_room(client: MatrixClient, user: User, body: JsonDict | None = None) -> str:
    """``POST /createRoom`` (spec "Creation"); returns the room ID."""
    _, data = await client.request("POST", "/_matrix/client/v3/createRoom", body or {}, user.token)
    room_id: str = data["room_id"]
    return room_id


async def join(client: MatrixClient, user: User, room_id: str) -> None:
    """``POST /join/{roomIdOrAlias}`` (spec "Joining rooms")."""
    await client.request("POST", f"/_matrix/client/v3/join/{q(room_id)}", {}, user.token)


async def gather_limited(concurrency: int, jobs: Iterable[Awaitable[T]]) -> list[T]:
    """Await ``jobs`` with at most ``concurrency`` running at once, keeping their order."""
    limit = asyncio.Semaphore(concurrency)

    async def guarded(job: Awaitable[T]) -> T:
        async with limit:
            return await job

    return list(await asyncio.gather(*(guarded(job) for job in jobs)))


__all__ = [
    "Context",
    "Phase",
    "RequestFailed",
    "Settings",
    "User",
    "create_room",
    "ensure_users",
    "gather_limited",
    "join",
    "register",
]
