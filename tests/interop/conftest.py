"""Interop fixtures: one Synapse (from PyPI) and one Transom per test module, federating over TLS
on loopback (Server-Server API "Resolving server names" step 2: both server names are
``127.0.0.1:<port>``, so no discovery lookups happen).

Both servers are driven through their Client-Server APIs by the same small ``Peer`` interface
(``request``, ``register``, ``server_name``); tests make fresh users and rooms, never fresh servers.

Synapse is installed into ``.venv-synapse/`` on first use. When that fails (no network), or when
``TRANSOM_SKIP_SYNAPSE`` is set, the tests are skipped with the reason, unless
``TRANSOM_TEST_SYNAPSE=required`` (as in CI): then they run, or fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from support import servers
from support.servers import federating_config, free_port, shared_secret_register
from transom.app import HomeServer, RunningServer, start

from .synapse_peer import POSTGRES_SERVER, SynapsePeer, SynapseStartError, ensure_synapse

SHARED_SECRET = "interop-shared-secret"
GENEROUS = {"per_second": 100000, "burst_count": 100000}


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str = "a condition", timeout: float = 15
) -> None:
    """Poll ``check`` every 0.1 s until it holds; fail after ``timeout`` seconds."""
    await servers.eventually(check, what, timeout, interval=0.1)


class Peer:
    """A homeserver seen through its Client-Server API (Synapse or Transom alike)."""

    def __init__(self, name: str, server_name: str, client_url: str, secret: str) -> None:
        self.name = name
        self.server_name = server_name
        self.client_url = client_url
        self.secret = secret
        self.session = aiohttp.ClientSession()

    async def request(
        self,
        method: str,
        path: str,
        token: str | None = None,
        json: Any = None,
        params: dict[str, str] | list[tuple[str, str]] | None = None,
    ) -> tuple[int, Any]:
        """One request; (status, JSON body or text)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.request(
            method, self.client_url + path, json=json, params=params, headers=headers
        ) as resp:
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, await resp.text()

    async def register(self, prefix: str) -> tuple[str, str]:
        """A fresh user through the shared-secret admin API (both servers serve it);
        returns (user_id, access_token)."""
        localpart = f"{prefix}{secrets.token_hex(3)}"
        body = await shared_secret_register(self.request, self.secret, localpart, "pw-" + localpart)
        return body["user_id"], body["access_token"]

    async def close(self) -> None:
        await self.session.close()


class TransomPeer(Peer):
    """Transom, with its HomeServer reachable for white-box checks."""

    def __init__(self, running: RunningServer) -> None:
        hs = running.hs
        super().__init__(
            "transom",
            hs.config.server_name,
            f"http://127.0.0.1:{running.port_for('client')}",
            SHARED_SECRET,
        )
        self.running = running
        self.hs: HomeServer = hs


class SynapseClient(Peer):
    """Synapse, with its log for failure messages."""

    def __init__(self, peer: SynapsePeer) -> None:
        super().__init__(
            "synapse", peer.server_name, peer.client_url, peer.registration_shared_secret
        )
        self.peer = peer


async def _start_synapse() -> SynapsePeer:
    required = os.environ.get("TRANSOM_TEST_SYNAPSE", "").lower() == "required"
    if os.environ.get("TRANSOM_SKIP_SYNAPSE") and not required:
        pytest.skip("TRANSOM_SKIP_SYNAPSE is set: interop tests against Synapse skipped")
    try:
        await asyncio.to_thread(ensure_synapse)
    except SynapseStartError as exc:
        message = f"Synapse could not be installed, interop tests skipped: {exc}"
        if required:
            pytest.fail(message.replace("skipped", "required (TRANSOM_TEST_SYNAPSE=required)"))
        pytest.skip(message)
    # Synapse answers a repeated /sync with the same ``since`` from a cache for two minutes by
    # default; tests poll /sync for changes, so the cache is turned off. By default it lets
    # only its admins publish rooms in its directory; here anyone may, as in Transom.
    extra = {
        "caches": {"sync_response_cache_duration": 0},
        "room_list_publication_rules": [{"action": "allow"}],
    }
    peer = SynapsePeer(bcrypt_rounds=4, extra_config=extra)
    await peer.start()
    return peer


def _database(folder: Path) -> dict[str, Any]:
    """SQLite in ``folder``, or with ``TRANSOM_TEST_ENGINE=postgres`` a fresh schema of the
    local PostgreSQL's ``test`` database (created by Transom, dropped by ``transom_peer``)."""
    if os.environ.get("TRANSOM_TEST_ENGINE", "sqlite") != "postgres":
        return {"name": "sqlite", "args": {"database": str(folder / "transom.db")}}
    schema = f"interop_{secrets.token_hex(4)}"
    args = {**POSTGRES_SERVER, "database": "test", "schema": schema}
    return {"name": "postgres", "args": args}


@contextlib.asynccontextmanager
async def transom_peer(folder: Path) -> AsyncIterator[TransomPeer]:
    """A running Transom for a ``with`` block; its PostgreSQL schema, if any, dropped after."""
    running = await start_transom(folder)
    client = TransomPeer(running)
    try:
        yield client
    finally:
        await client.close()
        await running.stop()
        db = running.hs.config.database
        if db.name == "postgres":
            import asyncpg

            connection = await asyncpg.connect(**POSTGRES_SERVER, database="test")
            try:
                await connection.execute(f'DROP SCHEMA IF EXISTS "{db.args["schema"]}" CASCADE')
            finally:
                await connection.close()


async def start_transom(folder: Path) -> RunningServer:
    config = federating_config(
        folder,
        _database(folder),
        free_port(),
        resources=("federation", "keys"),
        secret=SHARED_SECRET,
        limit=GENEROUS,
        allow_public_rooms_over_federation=True,
        federation_retry={"min_interval_ms": 200, "max_interval_ms": 2000, "multiplier": 2},
    )
    return await start(config)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def synapse() -> AsyncIterator[SynapseClient]:
    """One Synapse for the whole test module."""
    peer = await _start_synapse()
    client = SynapseClient(peer)
    try:
        yield client
    finally:
        await client.close()
        await peer.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def transom(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TransomPeer]:
    """One Transom for the whole test module."""
    async with transom_peer(tmp_path_factory.mktemp("transom")) as client:
        yield client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def peers(synapse: SynapseClient, transom: TransomPeer) -> tuple[SynapseClient, TransomPeer]:
    """Both servers, started."""
    return synapse, transom


@pytest.fixture(autouse=True)
def no_transom_errors(caplog: pytest.LogCaptureFixture) -> Any:
    """Transom runs in this process: an error it logs while serving the peer (say, a PDU of a
    transaction it failed to process, answered with an error Synapse merely logs) fails the
    test even when the scenario recovered."""
    yield
    errors = [
        f"{r.name}: {r.getMessage()}\n{r.exc_text or ''}"
        for r in caplog.get_records("call")
        if r.levelno >= logging.ERROR and r.name.startswith("transom")
    ]
    assert not errors, "Transom logged errors:\n" + "\n".join(errors)


@pytest.fixture(autouse=True)
def synapse_log_on_failure(
    request: pytest.FixtureRequest,
) -> Any:
    """Print the tail of Synapse's log when a test fails (the other half of the story)."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and "synapse" in request.fixturenames:
        peer: SynapseClient = request.getfixturevalue("synapse")
        print(peer.peer.log_tail(80))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
