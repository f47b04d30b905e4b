"""Federation fixtures: real Transom servers talking to each other over TLS on loopback.

``make_fed_server(**config_overrides)`` starts a homeserver named ``127.0.0.1:<port>`` whose
federation listener (TLS, self-signed certificate) is on that port, so other servers reach it by
its name alone (server discovery step 1: IP literal with an explicit port). Certificates are not
verified and ``ip_range_blacklist`` is empty so loopback may be reached. The handle is the API
suite's ``ServerHandle`` shape: ``request``, ``register``, ``hs``, ``server_name``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from support.servers import ServerHandle, federating_config, free_port
from transom.app import RunningServer, start
from transom.config import Config


@pytest.fixture
def engine() -> str:
    """Federation suites run on one engine: SQLite, or the one named by TRANSOM_TEST_ENGINE."""
    return os.environ.get("TRANSOM_TEST_ENGINE", "sqlite")


def fed_config(
    folder: Path, db_engine: str, db_args: dict[str, Any], port: int, **overrides: Any
) -> Config:
    """A config for a server named ``127.0.0.1:<port>`` (see ``support.servers``)."""
    return federating_config(folder, {"name": db_engine, "args": db_args}, port, **overrides)


class FedServer(ServerHandle):
    """A running server, an HTTP client for its client API, and its federation base URL."""

    def __init__(self, running: RunningServer, session: aiohttp.ClientSession) -> None:
        super().__init__(running, session, "https")

    async def federation_request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """An UNSIGNED request to the federation listener (for auth tests)."""
        return await self.request(method, path, base_url=self.federation_url, **kwargs)

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
