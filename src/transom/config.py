"""Typed configuration: loading, validation and ``generate-config``.

Key names and meanings follow Synapse's ``homeserver.yaml`` wherever Synapse has the same setting,
so admins can carry their knowledge (and most of their file) over. The result is a frozen dataclass
tree; a bad value raises ``ConfigError`` naming the key.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from signedjson.key import read_signing_keys
from signedjson.types import SigningKey

from transom.core.room_versions import KNOWN_ROOM_VERSIONS

DATABASE_ENGINES = ("sqlite3", "sqlite", "psycopg2", "postgres")
LISTENER_RESOURCES = ("client", "federation", "keys")
# Private, loopback, link-local and other non-routable ranges (Synapse's recommended blacklist).
DEFAULT_IP_RANGE_BLACKLIST = (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
    "192.0.0.0/24", "169.254.0.0/16", "192.88.99.0/24", "198.18.0.0/15", "192.0.2.0/24",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "::1/128", "fe80::/10", "fc00::/7",
    "2001:db8::/32", "ff00::/8", "fec0::/10",
)  # fmt: skip


class ConfigError(Exception):
    """A configuration value is missing or wrong; ``key`` is its dotted path."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"config key '{key}': {message}")
        self.key = key
        self.message = message


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    """One ``rc_*`` bucket: ``burst_count`` actions at once, refilled at ``per_second``."""

    per_second: float
    burst_count: float


@dataclass(frozen=True, slots=True)
class RateLimits:
    message: RateLimitConfig = RateLimitConfig(0.2, 10)
    login_address: RateLimitConfig = RateLimitConfig(0.003, 5)
    login_account: RateLimitConfig = RateLimitConfig(0.003, 5)
    login_failed_attempts: RateLimitConfig = RateLimitConfig(0.17, 3)
    registration: RateLimitConfig = RateLimitConfig(0.17, 3)
    joins_local: RateLimitConfig = RateLimitConfig(0.1, 10)
    joins_remote: RateLimitConfig = RateLimitConfig(0.01, 10)
    invites_per_room: RateLimitConfig = RateLimitConfig(0.3, 10)
    invites_per_user: RateLimitConfig = RateLimitConfig(0.003, 5)
    invites_per_issuer: RateLimitConfig = RateLimitConfig(0.3, 10)
    knocks_per_user: RateLimitConfig = RateLimitConfig(0.01, 5)
    knocks_per_room: RateLimitConfig = RateLimitConfig(0.3, 10)
    knocks_per_server: RateLimitConfig = RateLimitConfig(0.3, 10)


@dataclass(frozen=True, slots=True)
class FederationRetryConfig:
    """Backoff of the outbound federation queue for a failing destination (milliseconds)."""

    min_interval_ms: int = 10_000
    max_interval_ms: int = 24 * 3600 * 1000
    multiplier: float = 2.0


@dataclass(frozen=True, slots=True)
class ListenerConfig:
    port: int
    bind_addresses: tuple[str, ...]
    tls: bool
    resources: tuple[str, ...]
    x_forwarded: bool = False


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Config:
    server_name: str
    signing_key: SigningKey = field(repr=False, compare=False)
    signing_key_path: Path
    database: DatabaseConfig
    listeners: tuple[ListenerConfig, ...]
    registration_shared_secret: str | None = field(default=None, repr=False)
    public_baseurl: str | None = None
    serve_server_wellknown: bool = True
    enable_registration: bool = False
    enable_registration_without_verification: bool = False
    federation_verify_certificates: bool = True
    ip_range_blacklist: tuple[str, ...] = DEFAULT_IP_RANGE_BLACKLIST
    # Addresses federation may reach even though ip_range_blacklist covers them.
    ip_range_whitelist: tuple[str, ...] = ()
    federation_retry: FederationRetryConfig = FederationRetryConfig()
    allow_public_rooms_over_federation: bool = False
    default_room_version: str = "12"
    bcrypt_rounds: int = 12
    max_upload_size: int = 50 * 1024 * 1024
    max_request_body_size: int = 1024 * 1024
    shutdown_timeout: float = 10.0
    rc: RateLimits = RateLimits()
    stripped_state_extra_types: tuple[str, ...] = ()
    tls_certificate_path: Path | None = None
    tls_private_key_path: Path | None = None
    log_level: str = "INFO"

    def client_base_url(self) -> str:
        """``public_baseurl``, or the first client listener as seen from this machine."""
        if self.public_baseurl:
            return self.public_baseurl.rstrip("/") + "/"
        for listener in self.listeners:
            if "client" in listener.resources:
                scheme = "https" if listener.tls else "http"
                return f"{scheme}://{self.server_name.split(':')[0]}:{listener.port}/"
        return f"https://{self.server_name}/"


# --------------------------------------------------------------------------- value readers


def _get(
    raw: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any, path: str
) -> Any:
    value = raw.get(key, default)
    if value is None and default is None:
        return None
    # bool is an int in Python; never accept it for a number.
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise ConfigError(path, f"must be {_kind_name(kind)}, not a boolean")
    if not isinstance(value, kind):
        raise ConfigError(path, f"must be {_kind_name(kind)}, got {type(value).__name__}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", bool: "a boolean", int: "an integer", float: "a number",
             list: "a list", dict: "a mapping"}  # fmt: skip
    return " or ".join(names.get(k, k.__name__) for k in kinds)


_SIZE_RE = re.compile(r"^(\d+)\s*([KMG]?)B?$", re.IGNORECASE)


def parse_size(value: Any, key: str) -> int:
    """Synapse's size strings: ``"50M"``, ``"512K"``, or a plain number of bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE_RE.match(str(value).strip()) if isinstance(value, str) else None
    if not match or int(match.group(1)) <= 0:
        raise ConfigError(key, f"must be a positive size such as '50M', got {value!r}")
    scale = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}[match.group(2).upper()]
    return int(match.group(1)) * scale


def _rate(raw: dict[str, Any], key: str, default: RateLimitConfig, path: str) -> RateLimitConfig:
    section = _get(raw, key, dict, {}, path)
    per_second = _get(section, "per_second", (int, float), default.per_second, f"{path}.per_second")
    burst = _get(section, "burst_count", (int, float), default.burst_count, f"{path}.burst_count")
    if per_second < 0:
        raise ConfigError(f"{path}.per_second", "must not be negative")
    if burst < 0:
        raise ConfigError(f"{path}.burst_count", "must not be negative")
    return RateLimitConfig(float(per_second), float(burst))


def _rate_limits(raw: dict[str, Any]) -> RateLimits:
    d = RateLimits()
    login = _get(raw, "rc_login", dict, {}, "rc_login")
    joins = _get(raw, "rc_joins", dict, {}, "rc_joins")
    invites = _get(raw, "rc_invites", dict, {}, "rc_invites")
    knocks = _get(raw, "rc_knocks", dict, {}, "rc_knocks")
    return RateLimits(
        message=_rate(raw, "rc_message", d.message, "rc_message"),
        login_address=_rate(login, "address", d.login_address, "rc_login.address"),
        login_account=_rate(login, "account", d.login_account, "rc_login.account"),
        login_failed_attempts=_rate(
            login, "failed_attempts", d.login_failed_attempts, "rc_login.failed_attempts"
        ),
        registration=_rate(raw, "rc_registration", d.registration, "rc_registration"),
        joins_local=_rate(joins, "local", d.joins_local, "rc_joins.local"),
        joins_remote=_rate(joins, "remote", d.joins_remote, "rc_joins.remote"),
        invites_per_room=_rate(invites, "per_room", d.invites_per_room, "rc_invites.per_room"),
        invites_per_user=_rate(invites, "per_user", d.invites_per_user, "rc_invites.per_user"),
        invites_per_issuer=_rate(
            invites, "per_issuer", d.invites_per_issuer, "rc_invites.per_issuer"
        ),
        knocks_per_user=_rate(knocks, "per_user", d.knocks_per_user, "rc_knocks.per_user"),
        knocks_per_room=_rate(knocks, "per_room", d.knocks_per_room, "rc_knocks.per_room"),
        knocks_per_server=_rate(knocks, "per_server", d.knocks_per_server, "rc_knocks.per_server"),
    )


# Like Synapse, the room directory is not served over federation unless the admin says so.
_PUBLIC_ROOMS_KEY = ("allow_public_rooms_over_federation", bool, False,
                     "allow_public_rooms_over_federation")  # fmt: skip


def _federation_retry(raw: dict[str, Any]) -> FederationRetryConfig:
    section = _get(raw, "federation_retry", dict, {}, "federation_retry")
    d = FederationRetryConfig()
    low = _get(section, "min_interval_ms", int, d.min_interval_ms,
               "federation_retry.min_interval_ms")  # fmt: skip
    high = _get(section, "max_interval_ms", int, d.max_interval_ms,
                "federation_retry.max_interval_ms")  # fmt: skip
    factor = _get(section, "multiplier", (int, float), d.multiplier, "federation_retry.multiplier")
    if low <= 0 or high < low:
        raise ConfigError("federation_retry", "need 0 < min_interval_ms <= max_interval_ms")
    if factor < 1:
        raise ConfigError("federation_retry.multiplier", "must be at least 1")
    return FederationRetryConfig(low, high, float(factor))


def _listeners(raw: dict[str, Any]) -> tuple[ListenerConfig, ...]:
    items = _get(raw, "listeners", list, None, "listeners")
    if not items:
        raise ConfigError("listeners", "at least one listener is required")
    result = []
    for i, item in enumerate(items):
        path = f"listeners[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(path, "must be a mapping")
        port = _get(item, "port", int, None, f"{path}.port")
        if port is None or not 0 <= port <= 65535:
            raise ConfigError(f"{path}.port", "must be a port number between 0 and 65535")
        if _get(item, "type", str, "http", f"{path}.type") != "http":
            raise ConfigError(f"{path}.type", "only 'http' listeners are supported")
        binds = _get(item, "bind_addresses", list, ["127.0.0.1"], f"{path}.bind_addresses")
        if not binds or not all(isinstance(b, str) for b in binds):
            raise ConfigError(f"{path}.bind_addresses", "must be a non-empty list of addresses")
        names: list[str] = []
        for j, res in enumerate(_get(item, "resources", list, [], f"{path}.resources")):
            rpath = f"{path}.resources[{j}].names"
            res_names = _get(res if isinstance(res, dict) else {}, "names", list, None, rpath)
            for name in res_names or []:
                if name not in LISTENER_RESOURCES:
                    raise ConfigError(
                        rpath, f"unknown resource {name!r}; known: client, federation, keys"
                    )
                names.append(name)
        if not names:
            raise ConfigError(f"{path}.resources", "must name at least one resource")
        tls = _get(item, "tls", bool, False, f"{path}.tls")
        x_forwarded = _get(item, "x_forwarded", bool, False, f"{path}.x_forwarded")
        result.append(ListenerConfig(port, tuple(binds), tls, tuple(names), x_forwarded))
    return tuple(result)


def _database(raw: dict[str, Any], base: Path) -> DatabaseConfig:
    section = _get(raw, "database", dict, None, "database")
    if section is None:
        raise ConfigError("database", "is required")
    name = _get(section, "name", str, "sqlite3", "database.name")
    if name not in DATABASE_ENGINES:
        raise ConfigError("database.name", f"must be one of {', '.join(DATABASE_ENGINES)}")
    args = dict(_get(section, "args", dict, {}, "database.args"))
    if name in ("sqlite3", "sqlite"):
        db = args.get("database")
        if not isinstance(db, str) or not db:
            raise ConfigError("database.args.database", "must be the path of the SQLite file")
        if db != ":memory:":
            args["database"] = str(_resolve(base, db))
    return DatabaseConfig(name, args)


def _resolve(base: Path, value: str) -> Path:
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else base / path


def read_signing_key(path: Path) -> SigningKey:
    """Read the first key of a Synapse-format signing key file (``ed25519 a_XXXX <base64>``)."""
    try:
        with open(path) as f:
            keys = read_signing_keys(f)
    except FileNotFoundError:
        raise ConfigError("signing_key_path", f"file {path} does not exist") from None
    except Exception as e:
        raise ConfigError(
            "signing_key_path", f"cannot read a signing key from {path}: {e}"
        ) from None
    if not keys:
        raise ConfigError("signing_key_path", f"{path} holds no signing key")
    return keys[0]


# --------------------------------------------------------------------------- parse / load


def parse_config(raw: Any, base_dir: Path) -> Config:
    """Validate a parsed YAML document; relative paths are resolved against ``base_dir``."""
    if not isinstance(raw, dict):
        raise ConfigError("(top level)", "the configuration must be a YAML mapping")
    server_name = _get(raw, "server_name", str, None, "server_name")
    if not server_name or not re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+", server_name):
        raise ConfigError("server_name", "is required and must be a valid server name")
    key_path_str = _get(raw, "signing_key_path", str, None, "signing_key_path")
    if not key_path_str:
        raise ConfigError("signing_key_path", "is required")
    signing_key_path = _resolve(base_dir, key_path_str)
    room_version = str(_get(raw, "default_room_version", (str, int), "12", "default_room_version"))
    if room_version not in KNOWN_ROOM_VERSIONS:
        raise ConfigError("default_room_version", f"unknown room version {room_version!r}")
    rounds = _get(raw, "bcrypt_rounds", int, 12, "bcrypt_rounds")
    if not 4 <= rounds <= 31:
        raise ConfigError("bcrypt_rounds", "must be between 4 and 31")
    blacklist = _get(raw, "ip_range_blacklist", list, list(DEFAULT_IP_RANGE_BLACKLIST),
                     "ip_range_blacklist")  # fmt: skip
    whitelist = _get(raw, "ip_range_whitelist", list, [], "ip_range_whitelist")
    for key, ranges in (("ip_range_blacklist", blacklist), ("ip_range_whitelist", whitelist)):
        for cidr in ranges:
            try:
                ipaddress.ip_network(str(cidr), strict=False)
            except ValueError:
                raise ConfigError(key, f"{cidr!r} is not an IP range") from None
    extra_types = _get(raw, "stripped_state_extra_types", list, [], "stripped_state_extra_types")
    if not all(isinstance(t, str) for t in extra_types):
        raise ConfigError("stripped_state_extra_types", "must be a list of event types")
    listeners = _listeners(raw)
    tls_cert = _get(raw, "tls_certificate_path", str, None, "tls_certificate_path")
    tls_key = _get(raw, "tls_private_key_path", str, None, "tls_private_key_path")
    if any(listener.tls for listener in listeners):
        if not tls_cert:
            raise ConfigError("tls_certificate_path", "is required by a listener with tls: true")
        if not tls_key:
            raise ConfigError("tls_private_key_path", "is required by a listener with tls: true")
    enable_registration = _get(raw, "enable_registration", bool, False, "enable_registration")
    without_verification = _get(raw, "enable_registration_without_verification", bool, False,
                                "enable_registration_without_verification")  # fmt: skip
    if enable_registration and not without_verification:
        # Transom has no email, phone or captcha verification, so open registration would be
        # unverified: make the admin say so explicitly, as Synapse does.
        raise ConfigError(
            "enable_registration",
            "open registration has no verification; also set "
            "enable_registration_without_verification: true to allow it",
        )
    shutdown_timeout = _get(raw, "shutdown_timeout", (int, float), 10.0, "shutdown_timeout")
    if shutdown_timeout < 0:
        raise ConfigError("shutdown_timeout", "must not be negative")
    log_level = _get(raw, "log_level", str, "INFO", "log_level").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError("log_level", "must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return Config(
        server_name=server_name,
        signing_key=read_signing_key(signing_key_path),
        signing_key_path=signing_key_path,
        database=_database(raw, base_dir),
        listeners=listeners,
        registration_shared_secret=_get(
            raw, "registration_shared_secret", str, None, "registration_shared_secret"
        ),
        public_baseurl=_get(raw, "public_baseurl", str, None, "public_baseurl"),
        serve_server_wellknown=_get(
            raw, "serve_server_wellknown", bool, True, "serve_server_wellknown"
        ),
        enable_registration=enable_registration,
        enable_registration_without_verification=without_verification,
        federation_verify_certificates=_get(
            raw, "federation_verify_certificates", bool, True, "federation_verify_certificates"
        ),
        ip_range_blacklist=tuple(str(c) for c in blacklist),
        ip_range_whitelist=tuple(str(c) for c in whitelist),
        federation_retry=_federation_retry(raw),
        allow_public_rooms_over_federation=_get(raw, *_PUBLIC_ROOMS_KEY),
        default_room_version=room_version,
        bcrypt_rounds=rounds,
        max_upload_size=parse_size(raw.get("max_upload_size", "50M"), "max_upload_size"),
        max_request_body_size=parse_size(
            raw.get("max_request_body_size", "1M"), "max_request_body_size"
        ),
        shutdown_timeout=float(shutdown_timeout),
        rc=_rate_limits(raw),
        stripped_state_extra_types=tuple(extra_types),
        tls_certificate_path=_resolve(base_dir, tls_cert) if tls_cert else None,
        tls_private_key_path=_resolve(base_dir, tls_key) if tls_key else None,
        log_level=log_level,
    )


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML config file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError("--config-path", f"cannot read {path}: {e.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError("(file)", f"{path} is not valid YAML: {e}") from None
    return parse_config(raw, path.resolve().parent)
