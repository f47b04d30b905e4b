"""``transom generate-config`` writes the federation listener's self-signed TLS certificate, so
``run`` loads it instead of generating one (server-server API, "TLS")."""

from __future__ import annotations

import ssl
from pathlib import Path

from transom.cli import generate_config


def test_generate_config_writes_a_loadable_certificate(tmp_path: Path) -> None:
    generate_config("tls.test", tmp_path / "homeserver.yaml", tmp_path / "data")
    cert = tmp_path / "data" / "tls.test.tls.crt"
    key = tmp_path / "data" / "tls.test.tls.key"
    assert cert.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert key.stat().st_mode & 0o077 == 0
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    assert str(cert) in (tmp_path / "homeserver.yaml").read_text()
