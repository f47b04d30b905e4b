"""Synapse from PyPI as a loopback peer for interop tests and benchmarks.

Synapse is the reference homeserver the Matrix spec is tested against; here it plays the other side
of federation (Server-Server API, "Server discovery" is bypassed by a server name with an explicit
port, "Resolving server names" step 2) and the anchor of side-by-side benchmarks.

Synapse lives in its own virtualenv, ``.venv-synapse/`` at the repository root, so its pinned
dependencies never disturb the project's. ``ensure_synapse()`` installs it on first use.

A ``SynapsePeer`` owns one Synapse process and a temporary directory holding its generated
config, signing key, self-signed TLS certificate, SQLite database and log. Everything binds to
127.0.0.1 only. Federation runs over TLS (Synapse federates only over HTTPS); the settings that
make loopback federation work are described in ``shared/interop/synapse-peer.md`` beside the
repository.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import fcntl
import hashlib
import hmac
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from signedjson.key import generate_signing_key, write_signing_keys

SYNAPSE_VERSION = "1.163.2"
REPO_ROOT = Path(__file__).resolve().parents[2]
SYNAPSE_VENV = REPO_ROOT / ".venv-synapse"
_MARKER = SYNAPSE_VENV / ".installed-version"
LOOPBACK = "127.0.0.1"

# Every rate limiter Synapse reads (synapse/config/ratelimiting.py), raised so that load tests and
# interop tests never see 429. Transom reads the same keys.
_NO_LIMIT = {"per_second": 100000, "burst_count": 1000000}
RAISED_RATE_LIMITS: dict[str, Any] = {
    "rc_message": _NO_LIMIT,
    "rc_registration": _NO_LIMIT,
    "rc_registration_token_validity": _NO_LIMIT,
    "rc_login": {"address": _NO_LIMIT, "account": _NO_LIMIT, "failed_attempts": _NO_LIMIT},
    "rc_joins": {"local": _NO_LIMIT, "remote": _NO_LIMIT},
    "rc_joins_per_room": _NO_LIMIT,
    "rc_invites": {"per_room": _NO_LIMIT, "per_user": _NO_LIMIT, "per_issuer": _NO_LIMIT},
    "rc_third_party_invite": _NO_LIMIT,
    "rc_3pid_validation": _NO_LIMIT,
    "rc_admin_redaction": _NO_LIMIT,
    "rc_room_creation": _NO_LIMIT,
    "rc_presence": {"per_user": _NO_LIMIT},
    "rc_delayed_event_mgmt": _NO_LIMIT,
    "rc_reports": _NO_LIMIT,
    "rc_user_directory": _NO_LIMIT,
    "rc_profile": _NO_LIMIT,
    "rc_media_create": _NO_LIMIT,
    "rc_key_requests": _NO_LIMIT,
    "rc_federation": {
        "window_size": 1000,
        "sleep_limit": 100000,
        "sleep_delay": 1,
        "reject_limit": 100000,
        "concurrent": 1000,
    },
    "federation_rr_transactions_per_room_per_second": 100000,
}

# Short federation backoff: after a failed request Synapse otherwise avoids a destination for
# ten minutes or more, which would poison the rest of a test session.
SHORT_FEDERATION_BACKOFF: dict[str, Any] = {
    "destination_min_retry_interval": "2s",
    "destination_retry_multiplier": 2,
    "destination_max_retry_interval": "30s",
    "max_long_retry_delay": "10s",
}


# The local PostgreSQL server (trust auth); "test" is the database used to create others.
POSTGRES_SERVER: dict[str, Any] = {"host": LOOPBACK, "port": 5432, "user": "postgres"}
_POSTGRES_MAINTENANCE_DB = "test"


async def create_postgres_database(prefix: str = "peer") -> dict[str, Any]:
    """Create an empty database on the local PostgreSQL; return psycopg2-style ``args``.

    Synapse requires UTF8 with C collation, so the database is made from template0 that way.
    """
    import asyncpg

    name = f"{prefix}_{secrets.token_hex(4)}"
    connection = await asyncpg.connect(**POSTGRES_SERVER, database=_POSTGRES_MAINTENANCE_DB)
    try:
        await connection.execute(
            f"CREATE DATABASE {name} ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
        )
    finally:
        await connection.close()
    return {**POSTGRES_SERVER, "database": name, "cp_min": 5, "cp_max": 10}


async def drop_postgres_database(args: dict[str, Any]) -> None:
    """Drop a database made by ``create_postgres_database`` (its users must have gone)."""
    import asyncpg

    connection = await asyncpg.connect(**POSTGRES_SERVER, database=_POSTGRES_MAINTENANCE_DB)
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {args['database']} WITH (FORCE)")
    finally:
        await connection.close()


class SynapseStartError(RuntimeError):
    """Synapse could not be installed or did not become ready; carries the log tail."""


def ensure_synapse() -> Path:
    """Return the path of a Python interpreter that can run Synapse, installing it if needed.

    ``TRANSOM_SYNAPSE_PYTHON`` names an existing interpreter to use instead. Otherwise Synapse
    ``SYNAPSE_VERSION`` is installed into ``.venv-synapse/`` (about a minute the first time; a
    file lock makes concurrent callers wait for one install). Idempotent.
    """
    override = os.environ.get("TRANSOM_SYNAPSE_PYTHON")
    if override:
        path = Path(override)
        if not path.exists():
            raise SynapseStartError(f"TRANSOM_SYNAPSE_PYTHON={override} does not exist")
        return path
    python = SYNAPSE_VENV / "bin" / "python"
    if _installed(python):
        return python
    lock_path = REPO_ROOT / ".venv-synapse.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _installed(python):
            _install(python)
    return python


def _installed(python: Path) -> bool:
    return python.exists() and _MARKER.exists() and _MARKER.read_text().strip() == SYNAPSE_VERSION


def _install(python: Path) -> None:
    steps = [
        [sys.executable, "-m", "venv", str(SYNAPSE_VENV)],
        [str(python), "-m", "pip", "install", "-q", f"matrix-synapse=={SYNAPSE_VERSION}"],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SynapseStartError(f"{' '.join(step)} failed:\n{done.stdout}\n{done.stderr}")
    _MARKER.write_text(SYNAPSE_VERSION + "\n")


def ensure_psycopg2(python: Path) -> None:
    """Give Synapse's interpreter its PostgreSQL driver (the binary wheel, nothing compiles)."""
    probe = subprocess.run([str(python), "-c", "import psycopg2"], capture_output=True, check=False)
    if probe.returncode == 0:
        return
    step = [str(python), "-m", "pip", "install", "-q", "psycopg2-binary"]
    done = subprocess.run(step, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SynapseStartError(f"{' '.join(step)} failed:\n{done.stdout}\n{done.stderr}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def write_self_signed_cert(directory: Path, host: str = LOOPBACK) -> tuple[Path, Path]:
    """Write a self-signed certificate and key for ``host`` (and 127.0.0.1, localhost)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    alt_names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address(LOOPBACK)),
    ]
    if host not in ("localhost", LOOPBACK):
        alt_names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "tls.crt"
    key_path = directory / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _log_config(log_path: Path, level: str) -> dict[str, Any]:
    return {
        "version": 1,
        "formatters": {
            "precise": {"format": "%(asctime)s %(name)s %(lineno)d %(levelname)s %(message)s"}
        },
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "formatter": "precise",
                "filename": str(log_path),
                "encoding": "utf8",
            }
        },
        "loggers": {"synapse.storage.SQL": {"level": "WARNING"}},
        "root": {"level": level, "handlers": ["file"]},
        "disable_existing_loggers": False,
    }


async def wait_for_versions(
    base_url: str,
    timeout: float,
    process: asyncio.subprocess.Process | None = None,
    *,
    label: str = "server",
    error: type[Exception] = RuntimeError,
) -> None:
    """Poll ``GET /_matrix/client/versions`` until it answers 200; raise ``error`` when
    ``process`` exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    url = base_url.rstrip("/") + "/_matrix/client/versions"
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process is not None and process.returncode is not None:
                raise error(f"{label} exited with {process.returncode}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise error(f"{label} did not answer {url} within {timeout}s")


async def terminate(process: asyncio.subprocess.Process | None) -> None:
    """SIGTERM ``process`` if it still runs, SIGKILL it after 15 s, and reap it."""
    if process is not None and process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


class LoopbackServer:
    """A homeserver run as a child process: a plain-HTTP client listener on
    ``LOOPBACK:client_port`` and a TLS federation one on ``federation_port``, named
    ``host:federation_port`` so peers connect without discovery."""

    label = "server"
    host = LOOPBACK
    client_port: int
    federation_port: int
    _process: asyncio.subprocess.Process | None

    @property
    def server_name(self) -> str:
        """``host:port`` of the federation listener, so peers connect without discovery."""
        return f"{self.host}:{self.federation_port}"

    @property
    def client_url(self) -> str:
        return f"http://{LOOPBACK}:{self.client_port}"

    @property
    def federation_url(self) -> str:
        return f"https://{LOOPBACK}:{self.federation_port}"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError(f"{self.label} is not running")
        return self._process.pid


class SynapsePeer(LoopbackServer):
    """One Synapse homeserver on 127.0.0.1: a plain-HTTP client listener, a TLS federation one.

    Use ``async with SynapsePeer() as peer:`` or call ``start()`` and ``stop()``.
    ``extra_config`` is merged over the generated config (top-level keys replace).
    ``database="postgres"`` gives it a fresh database on the local PostgreSQL, dropped at stop.
    """

    label = "Synapse"

    def __init__(
        self,
        *,
        bcrypt_rounds: int = 4,
        host: str = LOOPBACK,
        log_level: str = "INFO",
        extra_config: dict[str, Any] | None = None,
        startup_timeout: float = 120.0,
        database: str = "sqlite",
    ) -> None:
        if database not in ("sqlite", "postgres"):
            raise ValueError(f"database must be sqlite or postgres, not {database!r}")
        self.database = database
        self.postgres_args: dict[str, Any] | None = None
        self.bcrypt_rounds = bcrypt_rounds
        self.host = host
        self.log_level = log_level
        self.extra_config = extra_config or {}
        self.startup_timeout = startup_timeout
        self.client_port = 0
        self.federation_port = 0
        self.registration_shared_secret = secrets.token_hex(16)
        self.directory: Path | None = None
        self._process: asyncio.subprocess.Process | None = None

    @property
    def log_path(self) -> Path:
        if self.directory is None:
            raise RuntimeError("Synapse was never started")
        return self.directory / "homeserver.log"

    @property
    def config_path(self) -> Path:
        if self.directory is None:
            raise RuntimeError("Synapse was never started")
        return self.directory / "homeserver.yaml"

    # -- lifecycle ---------------------------------------------------------------------------

    def build_config(self, directory: Path) -> dict[str, Any]:
        """The homeserver.yaml contents for this peer, with files it names written to disk."""
        cert_path, key_path = write_self_signed_cert(directory, self.host)
        signing_key_path = directory / "signing.key"
        with open(signing_key_path, "w") as stream:
            write_signing_keys(stream, [generate_signing_key("a_" + secrets.token_hex(2))])
        log_config_path = directory / "log.yaml"
        log_config_path.write_text(yaml.safe_dump(_log_config(self.log_path, self.log_level)))
        config: dict[str, Any] = {
            "server_name": self.server_name,
            "public_baseurl": self.client_url + "/",
            "pid_file": str(directory / "homeserver.pid"),
            "report_stats": False,
            "listeners": [
                {
                    "port": self.client_port,
                    "bind_addresses": [LOOPBACK],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                },
                {
                    "port": self.federation_port,
                    "bind_addresses": [LOOPBACK],
                    "type": "http",
                    "tls": True,
                    "resources": [{"names": ["federation", "keys"], "compress": False}],
                },
            ],
            "tls_certificate_path": str(cert_path),
            "tls_private_key_path": str(key_path),
            "database": self._database_config(directory),
            "log_config": str(log_config_path),
            "media_store_path": str(directory / "media_store"),
            "signing_key_path": str(signing_key_path),
            "macaroon_secret_key": secrets.token_hex(16),
            "form_secret": secrets.token_hex(16),
            "registration_shared_secret": self.registration_shared_secret,
            "enable_registration": True,
            "enable_registration_without_verification": True,
            "bcrypt_rounds": self.bcrypt_rounds,
            # Loopback federation (synapse-peer.md): self-signed peers, 127.0.0.0/8 allowed,
            # keys fetched from the peer itself.
            "federation_verify_certificates": False,
            "ip_range_blacklist": [],
            "federation_ip_range_blacklist": [],
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "allow_public_rooms_over_federation": True,
            "allow_public_rooms_without_auth": True,
            "federation": dict(SHORT_FEDERATION_BACKOFF),
            "enable_metrics": False,
            "url_preview_enabled": False,
            **RAISED_RATE_LIMITS,
        }
        config.update(self.extra_config)
        return config

    def _database_config(self, directory: Path) -> dict[str, Any]:
        if self.postgres_args is not None:
            return {"name": "psycopg2", "args": self.postgres_args}
        return {"name": "sqlite3", "args": {"database": str(directory / "homeserver.db")}}

    async def start(self) -> None:
        """Install Synapse if needed, write a config, run it, wait for /versions to answer."""
        python = await asyncio.to_thread(ensure_synapse)
        if self.database == "postgres":
            await asyncio.to_thread(ensure_psycopg2, python)
            self.postgres_args = await create_postgres_database("synapse_peer")
        self.directory = Path(tempfile.mkdtemp(prefix="synapse-peer-"))
        self.client_port = free_port()
        self.federation_port = free_port()
        config = self.build_config(self.directory)
        self.config_path.write_text(yaml.safe_dump(config))
        output = open(self.directory / "stdout.log", "wb")  # noqa: SIM115 - child owns it
        try:
            self._process = await asyncio.create_subprocess_exec(
                str(python),
                "-m",
                "synapse.app.homeserver",
                "--config-path",
                str(self.config_path),
                cwd=self.directory,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        finally:
            output.close()
        try:
            await self._wait_ready()
        except BaseException:
            print(self.log_tail(), file=sys.stderr)
            await self.stop()
            raise

    async def _wait_ready(self) -> None:
        await wait_for_versions(
            self.client_url,
            self.startup_timeout,
            self._process,
            label=self.label,
            error=SynapseStartError,
        )

    def log_tail(self, lines: int = 60) -> str:
        """The last lines of Synapse's log and of its stdout/stderr, for failure messages."""
        if self.directory is None:
            return ""
        out = []
        for path in (self.log_path, self.directory / "stdout.log"):
            if path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"==> {path} <==\n" + "\n".join(text))
        return "\n".join(out)

    async def stop(self) -> None:
        """Terminate and reap Synapse, then delete its directory. Safe to call twice."""
        process, self._process = self._process, None
        await terminate(process)
        if self.directory is not None and not os.environ.get("TRANSOM_KEEP_SYNAPSE_DIR"):
            shutil.rmtree(self.directory, ignore_errors=True)
        postgres_args, self.postgres_args = self.postgres_args, None
        if postgres_args is not None:
            await drop_postgres_database(postgres_args)

    async def __aenter__(self) -> SynapsePeer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            print(self.log_tail(), file=sys.stderr)
        await self.stop()

    # -- users -------------------------------------------------------------------------------

    async def register(self, localpart: str, password: str, admin: bool = False) -> tuple[str, str]:
        """Create a user with Synapse's shared-secret admin API; return (user_id, access_token)."""
        url = self.client_url + "/_synapse/admin/v1/register"
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as response:
                response.raise_for_status()
                nonce = (await response.json())["nonce"]
            mac = hmac.new(self.registration_shared_secret.encode(), digestmod=hashlib.sha1)
            for part in (nonce, localpart, password):
                mac.update(part.encode() + b"\x00")
            mac.update(b"admin" if admin else b"notadmin")
            body = {
                "nonce": nonce,
                "username": localpart,
                "password": password,
                "admin": admin,
                "mac": mac.hexdigest(),
            }
            async with session.post(url, json=body) as response:
                data = await response.json()
                if response.status != 200:
                    raise RuntimeError(f"shared-secret registration failed: {data}")
        return data["user_id"], data["access_token"]
