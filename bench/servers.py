"""Start a homeserver for a benchmark run: Transom or Synapse, on 127.0.0.1 only.

Both get the same settings that matter for a fair comparison: the same ``bcrypt_rounds``, open
registration without verification, every rate limiter raised, the same database engine (SQLite,
or a fresh database each on the local PostgreSQL), the same log level.
Synapse comes from PyPI through ``tests/interop/synapse_peer.py``. Transom is started as an
operator would: ``transom generate-config`` then ``transom run --config-path``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Protocol

import yaml
from tests.interop.synapse_peer import (
    LOOPBACK,
    RAISED_RATE_LIMITS,
    REPO_ROOT,
    LoopbackServer,
    SynapsePeer,
    create_postgres_database,
    drop_postgres_database,
    free_port,
    terminate,
    wait_for_versions,
)

_NO_LIMIT = {"per_second": 100000, "burst_count": 1000000}
# Transom's own knock limiter (config.py); Synapse has none by this name.
TRANSOM_EXTRA_RATE_LIMITS = {
    "rc_knocks": {"per_user": _NO_LIMIT, "per_room": _NO_LIMIT, "per_server": _NO_LIMIT}
}
# The rc_* keys Transom reads (src/transom/config.py).
TRANSOM_RATE_LIMIT_KEYS = (
    "rc_message",
    "rc_registration",
    "rc_login",
    "rc_joins",
    "rc_invites",
    "rc_knocks",
)


class RunningServer(Protocol):
    name: str

    @property
    def client_url(self) -> str: ...

    @property
    def server_name(self) -> str: ...

    @property
    def pid(self) -> int: ...

    async def stop(self) -> None: ...


class SynapseServer:
    """Synapse from PyPI (see tests/interop/synapse_peer.py)."""

    name = "synapse"

    def __init__(self, bcrypt_rounds: int, log_level: str, database: str) -> None:
        self.peer = SynapsePeer(bcrypt_rounds=bcrypt_rounds, log_level=log_level, database=database)

    @property
    def client_url(self) -> str:
        return self.peer.client_url

    @property
    def server_name(self) -> str:
        return self.peer.server_name

    @property
    def pid(self) -> int:
        return self.peer.pid

    async def start(self) -> None:
        await self.peer.start()

    async def stop(self) -> None:
        await self.peer.stop()


class TransomServer(LoopbackServer):
    """Transom from this checkout, run with the project's virtualenv."""

    name = "transom"
    label = "Transom"

    def __init__(
        self, bcrypt_rounds: int, log_level: str, database: str, startup_timeout: float = 60.0
    ) -> None:
        self.database = database
        self.postgres_args: dict[str, Any] | None = None
        self.bcrypt_rounds = bcrypt_rounds
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self.directory = Path(tempfile.mkdtemp(prefix="transom-bench-"))
        self.client_port = free_port()
        self.federation_port = free_port()
        self._process: asyncio.subprocess.Process | None = None

    def _transom(self) -> str:
        candidate = REPO_ROOT / ".venv" / "bin" / "transom"
        return str(candidate) if candidate.exists() else "transom"

    def _configure(self) -> Path:
        config_path = self.directory / "homeserver.yaml"
        subprocess.run(
            [
                self._transom(),
                "generate-config",
                "--server-name",
                self.server_name,
                "--config-path",
                str(config_path),
                "--data-dir",
                str(self.directory),
            ],
            check=True,
            capture_output=True,
        )
        config: dict[str, Any] = yaml.safe_load(config_path.read_text())
        config.update(
            {
                "listeners": [
                    {
                        "port": self.client_port,
                        "type": "http",
                        "tls": False,
                        "bind_addresses": [LOOPBACK],
                        "x_forwarded": False,
                        "resources": [{"names": ["client"]}],
                    },
                    {
                        "port": self.federation_port,
                        "type": "http",
                        "tls": True,
                        "bind_addresses": [LOOPBACK],
                        "resources": [{"names": ["federation", "keys"]}],
                    },
                ],
                "public_baseurl": self.client_url + "/",
                "enable_registration": True,
                "enable_registration_without_verification": True,
                "bcrypt_rounds": self.bcrypt_rounds,
                "federation_verify_certificates": False,
                "ip_range_blacklist": [],
                "log_level": self.log_level,
            }
        )
        if self.postgres_args is not None:
            config["database"] = {"name": "psycopg2", "args": self.postgres_args}
        for key in TRANSOM_RATE_LIMIT_KEYS:
            config[key] = {**RAISED_RATE_LIMITS, **TRANSOM_EXTRA_RATE_LIMITS}[key]
        config_path.write_text(yaml.safe_dump(config))
        return config_path

    async def start(self) -> None:
        if self.database == "postgres":
            self.postgres_args = await create_postgres_database("transom_bench")
        config_path = await asyncio.to_thread(self._configure)
        log = open(self.directory / "transom.log", "wb")  # noqa: SIM115 - child owns it
        try:
            self._process = await asyncio.create_subprocess_exec(
                self._transom(),
                "run",
                "--config-path",
                str(config_path),
                cwd=self.directory,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        try:
            await wait_for_versions(self.client_url, self.startup_timeout, self._process)
        except BaseException:
            print(self.log_tail(), file=sys.stderr)
            await self.stop()
            raise

    def log_tail(self, lines: int = 40) -> str:
        path = self.directory / "transom.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    async def stop(self) -> None:
        process, self._process = self._process, None
        await terminate(process)
        if not os.environ.get("TRANSOM_KEEP_BENCH_DIR"):
            shutil.rmtree(self.directory, ignore_errors=True)
        postgres_args, self.postgres_args = self.postgres_args, None
        if postgres_args is not None:
            await drop_postgres_database(postgres_args)


async def start_server(
    name: str, bcrypt_rounds: int, log_level: str, database: str = "sqlite"
) -> RunningServer:
    """Start ``transom`` or ``synapse`` on ``database`` (sqlite or postgres) and wait until it
    serves the Client-Server API."""
    server: SynapseServer | TransomServer
    if name == "synapse":
        server = SynapseServer(bcrypt_rounds, log_level, database)
    elif name == "transom":
        server = TransomServer(bcrypt_rounds, log_level, database)
    else:
        raise ValueError(f"unknown server {name!r}")
    await server.start()
    return server
