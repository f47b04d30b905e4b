"""Black-box server fixtures: a real Transom on loopback sockets, driven over HTTP.

``server`` starts one homeserver (client and federation listeners on free ports, plain HTTP,
bcrypt_rounds 4) and yields a ``ServerHandle``; ``make_server(**config_overrides)`` starts more,
or ones with other settings. API suites run on SQLite unless ``TRANSOM_TEST_ENGINE=postgres``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from signedjson.key import generate_signing_key, write_signing_keys

from transom.app import HomeServer, RunningServer, start
from transom.config import Config, parse_config

SHARED_SECRET = "test-shared-secret"


@pytest.fixture
def engine() -> str:
    """API suites run on one engine: SQLite, or the one named by TRANSOM_TEST_ENGINE."""
    return os.environ.get("TRANSOM_TEST_ENGINE", "sqlite")


def make_config(
    folder: Path, db_engine: str, db_args: dict[str, Any], server_name: str, **overrides: Any
) -> Config:
    """A test config: both listeners on port 0 without TLS, fast bcrypt, generous rate limits."""
    folder.mkdir(parents=True, exist_ok=True)
    key_path = folder / "signing.key"
    if not key_path.exists():
        with open(key_path, "w") as f:
            write_signing_keys(f, [generate_signing_key("a_test")])
    generous = {"per_second": 1000, "burst_count": 1000}
    raw: dict[str, Any] = {
        "server_name": server_name,
        "signing_key_path": str(key_path),
        "registration_shared_secret": SHARED_SECRET,
        "database": {"name": db_engine, "args": db_args},
        "listeners": [
            {"port": 0, "tls": False, "resources": [{"names": ["client"]}]},
            {"port": 0, "tls": False, "resources": [{"names": ["federation"]}]},
        ],
        "bcrypt_rounds": 4,
        "shutdown_timeout": 5,
        "rc_message": generous,
        "rc_registration": generous,
        "rc_login": {"address": generous, "account": generous, "failed_attempts": generous},
        "rc_joins": {"local": generous, "remote": generous},
        "rc_invites": {"per_room": generous, "per_user": generous, "per_issuer": generous},
        "rc_knocks": {"per_user": generous, "per_room": generous, "per_server": generous},
    }
    raw.update(overrides)
    return parse_config(raw, folder)


class ServerHandle:
    """A running server and an HTTP client for it."""

    def __init__(self, running: RunningServer, session: aiohttp.ClientSession) -> None:
        self.running = running
        self.hs: HomeServer = running.hs
        self.session = session
        self.base_url = f"http://127.0.0.1:{running.port_for('client')}"
        self.federation_url = f"http://127.0.0.1:{running.port_for('federation')}"
        self.server_name = self.hs.config.server_name

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
        """One request; returns (status, parsed JSON body or text)."""
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        url = (base_url or self.base_url) + path
        async with self.session.request(
            method, url, json=json, params=params, data=data, headers=all_headers
        ) as resp:
            text = await resp.text()
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, text

    async def register(
        self, localpart: str, password: str = "pw", admin: bool = False
    ) -> tuple[str, str, str]:
        """Register through the shared-secret admin API; returns (user_id, token, device_id)."""
        status, body = await self.request("GET", "/_synapse/admin/v1/register")
        assert status == 200, body
        nonce = body["nonce"]
        message = "\x00".join([nonce, localpart, password, "admin" if admin else "notadmin"])
        mac = hmac.new(SHARED_SECRET.encode(), message.encode(), hashlib.sha1).hexdigest()
        status, body = await self.request(
            "POST",
            "/_synapse/admin/v1/register",
            json={"nonce": nonce, "username": localpart, "password": password,
                  "admin": admin, "mac": mac},
        )  # fmt: skip
        assert status == 200, body
        return body["user_id"], body["access_token"], body["device_id"]


MakeServer = Callable[..., Awaitable[ServerHandle]]


@pytest.fixture
async def make_server(
    make_store_config: Callable[[str], tuple[str, dict[str, Any]]], tmp_path: Path
) -> AsyncIterator[MakeServer]:
    """Factory: ``await make_server(server_name="hs1", **config_overrides)``."""
    started: list[ServerHandle] = []

    async def make(server_name: str = "test.local", **overrides: Any) -> ServerHandle:
        name = f"{server_name}-{len(started)}"
        db_engine, db_args = make_store_config(name)
        config = make_config(tmp_path / name, db_engine, db_args, server_name, **overrides)
        running = await start(config)
        handle = ServerHandle(running, aiohttp.ClientSession())
        started.append(handle)
        return handle

    yield make
    for handle in started:
        await handle.session.close()
        await handle.running.stop()


@pytest.fixture
async def server(make_server: MakeServer) -> ServerHandle:
    """One running homeserver named ``test.local``."""
    return await make_server()
