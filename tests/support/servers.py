"""Starting real Transom servers for tests, and driving them over their Client-Server API.

One config recipe (fast bcrypt, raised rate limits, a signing key, a registration shared secret)
serves every suite: ``server_config`` for plain-HTTP servers with any name, and
``federating_config`` for servers named ``127.0.0.1:<port>`` whose TLS federation listener is on
that port, so peers reach them by name alone (Server-Server API "Resolving server names", step 1:
an IP literal with an explicit port). ``ServerHandle`` is a running server with an HTTP client;
``shared_secret_register`` registers through the shared-secret admin API (Synapse's, which
Transom serves too).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from signedjson.key import generate_signing_key, write_signing_keys

from transom.app import HomeServer, RunningServer
from transom.config import Config, parse_config

SHARED_SECRET = "test-shared-secret"
GENEROUS = {"per_second": 1000, "burst_count": 1000}
CLIENT_LISTENER: dict[str, Any] = {"port": 0, "tls": False, "resources": [{"names": ["client"]}]}


def q(value: str) -> str:
    """Quote one path segment (event IDs, room IDs and aliases hold reserved characters)."""
    return quote(value, safe="")


async def eventually(
    check: Callable[[], Awaitable[bool]],
    what: str = "a condition",
    timeout: float = 15,
    interval: float = 0.05,
) -> None:
    """Poll ``check`` every ``interval`` seconds until it holds (federation is asynchronous);
    fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await check():
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the server name must be known before start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rate_limits(limit: dict[str, int]) -> dict[str, Any]:
    """Every ``rc_*`` setting Transom reads, each bucket set to ``limit``."""
    return {
        "rc_message": limit,
        "rc_registration": limit,
        "rc_login": {"address": limit, "account": limit, "failed_attempts": limit},
        "rc_joins": {"local": limit, "remote": limit},
        "rc_invites": {"per_room": limit, "per_user": limit, "per_issuer": limit},
        "rc_knocks": {"per_user": limit, "per_room": limit, "per_server": limit},
    }


def server_config(
    folder: Path,
    server_name: str,
    database: dict[str, Any],
    listeners: list[dict[str, Any]],
    *,
    key_id: str,
    secret: str = SHARED_SECRET,
    limit: dict[str, int] = GENEROUS,
    **overrides: Any,
) -> Config:
    """A test config in ``folder`` (made if missing; its signing key kept if present): fast
    bcrypt, a 5 s shutdown, every rate limit at ``limit``; ``overrides`` replace top-level keys."""
    folder.mkdir(parents=True, exist_ok=True)
    key_path = folder / "signing.key"
    if not key_path.exists():
        with open(key_path, "w") as f:
            write_signing_keys(f, [generate_signing_key(key_id)])
    raw: dict[str, Any] = {
        "server_name": server_name,
        "signing_key_path": str(key_path),
        "registration_shared_secret": secret,
        "database": database,
        "listeners": listeners,
        "bcrypt_rounds": 4,
        "shutdown_timeout": 5,
        **rate_limits(limit),
    }
    raw.update(overrides)
    return parse_config(raw, folder)


def federating_config(
    folder: Path,
    database: dict[str, Any],
    port: int,
    *,
    resources: Iterable[str] = ("federation",),
    **overrides: Any,
) -> Config:
    """``server_config`` for ``127.0.0.1:<port>``: the client listener on a free port without
    TLS, ``resources`` on ``port`` with a self-signed certificate (written at start), peers'
    certificates not verified and loopback not blacklisted."""
    federating: dict[str, Any] = {
        "tls_certificate_path": str(folder / "tls.crt"),
        "tls_private_key_path": str(folder / "tls.key"),
        "federation_verify_certificates": False,
        "ip_range_blacklist": [],
        **overrides,
    }
    listeners = [
        CLIENT_LISTENER,
        {"port": port, "tls": True, "resources": [{"names": list(resources)}]},
    ]
    return server_config(
        folder, f"127.0.0.1:{port}", database, listeners, key_id=f"k{port}", **federating
    )


Request = Callable[..., Awaitable[tuple[int, Any]]]


async def shared_secret_register(
    request: Request, secret: str, localpart: str, password: str, admin: bool = False
) -> dict[str, Any]:
    """Register ``localpart`` through ``/_synapse/admin/v1/register`` (an HMAC-SHA1 of nonce,
    user, password and admin flag under ``secret``); the 200 answer's body."""
    status, body = await request("GET", "/_synapse/admin/v1/register")
    assert status == 200, body
    nonce = body["nonce"]
    message = "\x00".join([nonce, localpart, password, "admin" if admin else "notadmin"])
    mac = hmac.new(secret.encode(), message.encode(), hashlib.sha1).hexdigest()
    status, body = await request(
        "POST",
        "/_synapse/admin/v1/register",
        json={"nonce": nonce, "username": localpart, "password": password,
              "admin": admin, "mac": mac},
    )  # fmt: skip
    assert status == 200, body
    answer: dict[str, Any] = body
    return answer


class ServerHandle:
    """A running server and an HTTP client for its client API (certificates not verified)."""

    def __init__(
        self, running: RunningServer, session: aiohttp.ClientSession, federation_scheme: str
    ) -> None:
        self.running = running
        self.hs: HomeServer = running.hs
        self.session = session
        self.server_name = self.hs.config.server_name
        self.base_url = f"http://127.0.0.1:{running.port_for('client')}"
        self.federation_url = f"{federation_scheme}://127.0.0.1:{running.port_for('federation')}"

    async def request(
        self,
        method: str,
        path: str,
        token: str | None = None,
        json: Any = None,
        params: dict[str, str] | None = None,
        *,
        data: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        base_url: str | None = None,
    ) -> tuple[int, Any]:
        """One request (to the client API unless ``base_url``); (status, JSON body or text)."""
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        url = (base_url or self.base_url) + path
        async with self.session.request(
            method, url, json=json, params=params, data=data, headers=all_headers, ssl=False
        ) as resp:
            text = await resp.text()
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, text

    async def register(
        self, localpart: str, password: str = "pw", admin: bool = False
    ) -> tuple[str, str, str]:
        """Register through the shared-secret admin API; returns (user_id, token, device_id)."""
        body = await shared_secret_register(self.request, SHARED_SECRET, localpart, password, admin)
        return body["user_id"], body["access_token"], body["device_id"]


async def bodies(server: Any, token: str, room_id: str) -> list[str]:
    """Message bodies of the room, oldest first, as ``/messages`` shows them to ``token``
    (empty when it is refused); ``server`` is anything with this module's ``request``."""
    status, answer = await server.request(
        "GET", f"/_matrix/client/v3/rooms/{q(room_id)}/messages", token,
        params={"dir": "b", "limit": "100"},
    )  # fmt: skip
    if status != 200:
        return []
    return [
        e["content"].get("body") for e in reversed(answer["chunk"]) if e["type"] == "m.room.message"
    ]


async def has_bodies(server: Any, token: str, room_id: str, wanted: list[str]) -> bool:
    got = await bodies(server, token, room_id)
    return all(w in got for w in wanted)
