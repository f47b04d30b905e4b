"""Federation fixtures: real Transom servers talking to each other over TLS on loopback.

``make_fed_server(**config_overrides)`` starts a homeserver named ``127.0.0.1:<port>`` whose
federation listener (TLS, self-signed certificate) is on that port, so other servers reach it by
its name alone (server discovery step 1: IP literal with an explicit port). Certificates are not
verified and ``ip_range_blacklist`` is empty so loopback may be reached. The handle is the API
suite's ``ServerHandle`` shape: ``request``, ``register``, ``hs``, ``server_name``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
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
    """Federation suites run on one engine: SQLite, or the one named by TRANSOM_TEST_ENGINE."""
    return os.environ.get("TRANSOM_TEST_ENGINE", "sqlite")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the server name must be known before start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fed_config(
    folder: Path, db_engine: str, db_args: dict[str, Any], port: int, **overrides: Any
) -> Config:
    folder.mkdir(parents=True, exist_ok=True)
    key_path = folder / "signing.key"
    if not key_path.exists():
        with open(key_path, "w") as f:
            write_signing_keys(f, [generate_signing_key(f"k{port}")])
    generous = {"per_second": 1000, "burst_count": 1000}
    raw: dict[str, Any] = {
        "server_name": f"127.0.0.1:{port}",
        "signing_key_path": str(key_path),
        "registration_shared_secret": SHARED_SECRET,
        "database": {"name": db_engine, "args": db_args},
        "listeners": [
            {"port": 0, "tls": False, "resources": [{"names": ["client"]}]},
            {"port": port, "tls": True, "resources": [{"names": ["federation"]}]},
        ],
        "tls_certificate_path": str(folder / "tls.crt"),
        "tls_private_key_path": str(folder / "tls.key"),
        "federation_verify_certificates": False,
        "ip_range_blacklist": [],
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


class FedServer:
    """A running server, an HTTP client for its client API, and its federation base URL."""

    def __init__(self, running: RunningServer, session: aiohttp.ClientSession) -> None:
        self.running = running
        self.hs: HomeServer = running.hs
        self.session = session
        self.server_name = self.hs.config.server_name
        self.base_url = f"http://127.0.0.1:{running.port_for('client')}"
        self.federation_url = f"https://127.0.0.1:{running.port_for('federation')}"

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

    async def federation_request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """An UNSIGNED request to the federation listener (for auth tests)."""
        return await self.request(method, path, base_url=self.federation_url, **kwargs)

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

    async def stop(self) -> None:
        await self.running.stop()


MakeFedServer = Callable[..., Awaitable[FedServer]]


@pytest.fixture
async def make_fed_server(
    make_store_config: Callable[[str], tuple[str, dict[str, Any]]], tmp_path: Path
) -> AsyncIterator[MakeFedServer]:
    """Factory: ``await make_fed_server(**config_overrides)``; stopped after the test."""
    started: list[FedServer] = []
    stopped: set[int] = set()

    async def make(**overrides: Any) -> FedServer:
        port = free_port()
        name = f"hs{len(started)}"
        db_engine, db_args = make_store_config(name)
        config = fed_config(tmp_path / name, db_engine, db_args, port, **overrides)
        running = await start(config)
        handle = FedServer(running, aiohttp.ClientSession())
        original_stop = handle.stop

        async def stop_once() -> None:
            if id(handle) not in stopped:
                stopped.add(id(handle))
                await original_stop()

        handle.stop = stop_once  # type: ignore[method-assign]
        started.append(handle)
        return handle

    yield make
    for handle in started:
        await handle.session.close()
        await handle.stop()


@pytest.fixture
async def two_servers(make_fed_server: MakeFedServer) -> tuple[FedServer, FedServer]:
    """Two federating servers, A and B."""
    return await make_fed_server(), await make_fed_server()
