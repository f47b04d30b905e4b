"""Config loading and validation: every bad value names its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from transom.cli import generate_config
from transom.config import ConfigError, load_config, parse_config, parse_size


@pytest.fixture
def generated(tmp_path: Path) -> Path:
    path = tmp_path / "conf" / "homeserver.yaml"
    generate_config("example.org", path, tmp_path / "data")
    return path


def _raw(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def test_generated_config_loads_with_synapse_defaults(generated: Path, tmp_path: Path) -> None:
    config = load_config(generated)
    assert config.server_name == "example.org"
    assert config.signing_key.version.startswith("a_") and len(config.signing_key.version) == 6
    assert config.signing_key_path == tmp_path / "data" / "example.org.signing.key"
    assert config.database.name == "sqlite3"
    assert config.database.args["database"] == str(tmp_path / "data" / "homeserver.db")
    client, federation = config.listeners
    assert (client.port, client.tls, client.resources) == (8008, False, ("client",))
    assert client.bind_addresses == ("127.0.0.1",)
    assert (federation.port, federation.tls, federation.resources) == (8448, True, ("federation",))
    assert config.enable_registration is False
    assert config.federation_verify_certificates is True
    assert "10.0.0.0/8" in config.ip_range_blacklist
    assert config.default_room_version == "12" and config.bcrypt_rounds == 12
    assert config.registration_shared_secret and len(config.registration_shared_secret) > 20
    assert config.rc.knocks_per_user.burst_count == 5
    assert config.rc.login_failed_attempts.per_second == 0.17
    assert config.stripped_state_extra_types == ()
    assert config.max_upload_size == 50 * 1024 * 1024
    assert config.tls_certificate_path == tmp_path / "data" / "example.org.tls.crt"
    # The signing key file is in Synapse's format: "ed25519 <version> <base64 seed>".
    alg, version, _seed = config.signing_key_path.read_text().split()
    assert alg == "ed25519" and version == config.signing_key.version


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"server_name": None}, "server_name"),
        ({"bcrypt_rounds": "twelve"}, "bcrypt_rounds"),
        ({"bcrypt_rounds": 2}, "bcrypt_rounds"),
        ({"default_room_version": "99"}, "default_room_version"),
        ({"enable_registration": "yes"}, "enable_registration"),
        ({"enable_registration": True}, "enable_registration"),
        ({"ip_range_blacklist": ["not-a-range"]}, "ip_range_blacklist"),
        ({"max_upload_size": "lots"}, "max_upload_size"),
        ({"rc_message": {"per_second": "fast"}}, "rc_message.per_second"),
        ({"rc_knocks": {"per_room": {"burst_count": -1}}}, "rc_knocks.per_room.burst_count"),
        ({"rc_login": {"address": {"per_second": True}}}, "rc_login.address.per_second"),
        ({"database": {"name": "mysql"}}, "database.name"),
        ({"listeners": []}, "listeners"),
        ({"listeners": [{"port": 99999, "resources": [{"names": ["client"]}]}]},
         "listeners[0].port"),
        ({"listeners": [{"port": 1, "resources": [{"names": ["media"]}]}]},
         "listeners[0].resources[0].names"),
        ({"tls_certificate_path": None}, "tls_certificate_path"),
        ({"stripped_state_extra_types": [1]}, "stripped_state_extra_types"),
        ({"signing_key_path": "/nonexistent/key"}, "signing_key_path"),
    ],
)  # fmt: skip
def test_bad_values_name_their_key(generated: Path, change: dict[str, Any], key: str) -> None:
    raw = _raw(generated)
    raw.update(change)
    with pytest.raises(ConfigError) as exc:
        parse_config(raw, generated.parent)
    assert exc.value.key == key
    assert key in str(exc.value)


def test_open_registration_needs_explicit_opt_in(generated: Path) -> None:
    raw = _raw(generated)
    raw.update(enable_registration=True, enable_registration_without_verification=True)
    assert parse_config(raw, generated.parent).enable_registration


def test_relative_paths_resolve_against_the_config_file(generated: Path, tmp_path: Path) -> None:
    raw = _raw(generated)
    raw["database"]["args"]["database"] = "db/home.db"
    assert parse_config(raw, generated.parent).database.args["database"] == str(
        generated.parent / "db" / "home.db"
    )


def test_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("server_name: [unclosed")
    with pytest.raises(ConfigError):
        load_config(path)
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path / "missing.yaml")
    assert exc.value.key == "--config-path"


def test_sizes() -> None:
    assert parse_size("50M", "k") == 50 * 1024 * 1024
    assert parse_size("512K", "k") == 512 * 1024
    assert parse_size(100, "k") == 100
    with pytest.raises(ConfigError):
        parse_size("0", "k")
