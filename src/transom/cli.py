"""The ``transom`` command: ``generate-config``, ``run``, ``migrate``, ``register-user``.

A bad configuration stops every command with one line naming the key (exit code 2, no traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import string
import sys
import urllib.error
import urllib.request
from pathlib import Path

from signedjson.key import generate_signing_key, write_signing_keys

from transom.config import Config, ConfigError, load_config

CONFIG_TEMPLATE = """\
# Transom homeserver configuration. Key names follow Synapse's homeserver.yaml.

# The domain in user IDs (@alice:{server_name}) and room aliases. Cannot be changed later.
server_name: "{server_name}"

# Ed25519 key that signs events and federation requests (Synapse's format).
signing_key_path: "{signing_key_path}"

# Secret for the shared-secret registration API (transom register-user). Keep it private.
registration_shared_secret: "{shared_secret}"

database:
  # sqlite3 (default) or psycopg2 with args user, password, database, host, port.
  name: sqlite3
  args:
    database: "{database_path}"

listeners:
  # Client-server API, plain HTTP; put a TLS reverse proxy in front of it for the internet.
  - port: 8008
    type: http
    tls: false
    bind_addresses: ['127.0.0.1']
    x_forwarded: false
    resources:
      - names: [client]
  # Server-server API over TLS.
  - port: 8448
    type: http
    tls: true
    bind_addresses: ['0.0.0.0']
    resources:
      - names: [federation]

# Certificate for the TLS listener. If the files do not exist, a self-signed pair is made at start.
tls_certificate_path: "{tls_cert_path}"
tls_private_key_path: "{tls_key_path}"

# Base URL clients use to reach the client listener (advertised in /.well-known/matrix/client).
#public_baseurl: https://{server_name}/
# Serve /.well-known/matrix/server pointing at the federation listener.
serve_server_wellknown: true

# Open registration. Transom has no email/phone/captcha verification, so enabling it also
# requires enable_registration_without_verification: true.
enable_registration: false
enable_registration_without_verification: false

# Check TLS certificates of other servers.
federation_verify_certificates: true

# Outbound federation never connects to these ranges (private networks by default).
ip_range_blacklist:
  - '127.0.0.0/8'
  - '10.0.0.0/8'
  - '172.16.0.0/12'
  - '192.168.0.0/16'
  - '100.64.0.0/10'
  - '169.254.0.0/16'
  - '::1/128'
  - 'fe80::/10'
  - 'fc00::/7'

# Room version of new rooms.
default_room_version: "12"

# Cost of password hashes (4..31).
bcrypt_rounds: 12

# Largest media upload, and largest JSON request body.
max_upload_size: 50M
max_request_body_size: 1M

# Seconds in-flight requests may take to finish at shutdown.
shutdown_timeout: 10

# Rate limits: burst_count actions at once, refilled at per_second actions per second.
rc_message:
  per_second: 0.2
  burst_count: 10
rc_registration:
  per_second: 0.17
  burst_count: 3
rc_login:
  address: {{per_second: 0.003, burst_count: 5}}
  account: {{per_second: 0.003, burst_count: 5}}
  failed_attempts: {{per_second: 0.17, burst_count: 3}}
rc_joins:
  local: {{per_second: 0.1, burst_count: 10}}
  remote: {{per_second: 0.01, burst_count: 10}}
rc_invites:
  per_room: {{per_second: 0.3, burst_count: 10}}
  per_user: {{per_second: 0.003, burst_count: 5}}
  per_issuer: {{per_second: 0.3, burst_count: 10}}
# Knocks (room versions 7+): per knocking user, per room knocked on, and per origin server
# for knocks arriving over federation.
rc_knocks:
  per_user: {{per_second: 0.01, burst_count: 5}}
  per_room: {{per_second: 0.3, burst_count: 10}}
  per_server: {{per_second: 0.3, burst_count: 10}}

# Extra state event types included in the stripped state of invites and knocks.
stripped_state_extra_types: []

log_level: INFO
"""


def generate_config(server_name: str, config_path: Path, data_dir: Path | None = None) -> None:
    """Write a commented config, a new signing key and a self-signed TLS certificate for the
    federation listener, and create the data directory."""
    data_dir = (data_dir or config_path.parent).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    config_path.parent.mkdir(parents=True, exist_ok=True)
    key_path = data_dir / f"{server_name}.signing.key"
    if not key_path.exists():
        version = "a_" + "".join(secrets.choice(string.ascii_letters) for _ in range(4))
        with open(key_path, "w") as f:
            write_signing_keys(f, [generate_signing_key(version)])
        key_path.chmod(0o600)
    tls_cert_path = data_dir / f"{server_name}.tls.crt"
    tls_key_path = data_dir / f"{server_name}.tls.key"
    if not tls_cert_path.exists() or not tls_key_path.exists():
        from transom.app import write_self_signed_certificate

        write_self_signed_certificate(server_name, tls_cert_path, tls_key_path)
    text = CONFIG_TEMPLATE.format(
        server_name=server_name,
        signing_key_path=key_path,
        shared_secret=secrets.token_urlsafe(32),
        database_path=data_dir / "homeserver.db",
        tls_cert_path=tls_cert_path,
        tls_key_path=tls_key_path,
    )
    config_path.write_text(text)
    config_path.chmod(0o600)


def _client_url(config: Config) -> str:
    for listener in config.listeners:
        if "client" in listener.resources:
            host = listener.bind_addresses[0]
            if host in ("0.0.0.0", "::"):
                host = "127.0.0.1"
            scheme = "https" if listener.tls else "http"
            return f"{scheme}://{'[' + host + ']' if ':' in host else host}:{listener.port}"
    raise ConfigError("listeners", "no listener serves the 'client' resource")


def _http_json(url: str, body: dict[str, object] | None = None) -> dict[str, object]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            result: dict[str, object] = json.load(resp)
            return result
    except urllib.error.HTTPError as e:
        try:
            detail = json.load(e)
        except ValueError:
            detail = {}
        message = f"error: {e.code} {detail.get('errcode', '')} {detail.get('error', '')}"
        raise SystemExit(message) from None
    except urllib.error.URLError as e:
        raise SystemExit(f"error: cannot reach the server at {url}: {e.reason}") from None


def register_user(config: Config, user: str, password: str, admin: bool) -> str:
    """Register through the running server's shared-secret API (like register_new_matrix_user)."""
    secret = config.registration_shared_secret
    if not secret:
        raise ConfigError("registration_shared_secret", "is not set")
    url = _client_url(config) + "/_synapse/admin/v1/register"
    nonce = str(_http_json(url)["nonce"])
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
    mac.update(b"\x00".join([nonce.encode(), user.encode(), password.encode(),
                             b"admin" if admin else b"notadmin"]))  # fmt: skip
    body = {"nonce": nonce, "username": user, "password": password, "admin": admin,
            "mac": mac.hexdigest()}  # fmt: skip
    return str(_http_json(url, body)["user_id"])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="transom", description="Transom Matrix homeserver")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate-config", help="write a new config file and signing key")
    gen.add_argument("--server-name", required=True)
    gen.add_argument("--config-path", required=True, type=Path)
    gen.add_argument("--data-dir", type=Path, default=None)
    for name, text in (("run", "serve"), ("migrate", "apply database migrations")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--config-path", required=True, type=Path)
    reg = sub.add_parser("register-user", help="register a user on the running server")
    reg.add_argument("--config-path", required=True, type=Path)
    reg.add_argument("--user", required=True)
    reg.add_argument("--password", required=True)
    reg.add_argument("--admin", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "generate-config":
            if args.config_path.exists():
                print(f"error: {args.config_path} already exists", file=sys.stderr)
                return 1
            generate_config(args.server_name, args.config_path, args.data_dir)
            print(f"wrote {args.config_path}")
            return 0
        config = load_config(args.config_path)
        logging.basicConfig(
            level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        from transom import app  # imported late: generate-config needs no server code

        if args.command == "run":
            asyncio.run(app.serve_forever(config))
        elif args.command == "migrate":
            asyncio.run(app.migrate(config))
        elif args.command == "register-user":
            print(f"registered {register_user(config, args.user, args.password, args.admin)}")
        return 0
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
