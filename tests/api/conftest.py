"""Black-box server fixtures: a real Transom on loopback sockets, driven over HTTP.

``server`` starts one homeserver (client and federation listeners on free ports, plain HTTP,
bcrypt_rounds 4) and yields a ``ServerHandle``; ``make_server(**config_overrides)`` starts more,
or ones with other settings. API suites run on SQLite unless ``TRANSOM_TEST_ENGINE=postgres``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from support.servers import CLIENT_LISTENER, ServerHandle, server_config
from transom.app import start
from transom.config import Config


@pytest.fixture
def engine() -> str:
    """API suites run on one engine: SQLite, or the one named by TRANSOM_TEST_ENGINE."""
    return os.environ.get("TRANSOM_TEST_ENGINE", "sqlite")


def make_config(
    folder: Path, db_engine: str, db_args: dict[str, Any], server_name: str, **overrides: Any
) -> Config:
    """A test config: both listeners on port 0 without TLS, fast bcrypt, generous rate limits."""
    federation = {"port": 0, "tls": False, "resources": [{"names": ["federation"]}]}
    database = {"name": db_engine, "args": db_args}
    listeners = [CLIENT_LISTENER, federation]
    return server_config(folder, server_name, database, listeners, key_id="a_test", **overrides)


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
        handle = ServerHandle(running, aiohttp.ClientSession(), "http")
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
