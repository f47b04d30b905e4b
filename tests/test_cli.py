"""The ``transom`` command end to end: generate-config, migrate, run (with graceful SIGTERM),
register-user against the running server, and start-up errors for bad configs."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml


def _transom(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "transom", *args], capture_output=True, text=True, timeout=60
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _http(url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "homeserver.yaml"
    result = _transom("generate-config", "--server-name", "cli.test", "--config-path", str(path))
    assert result.returncode == 0, result.stderr
    raw = yaml.safe_load(path.read_text())
    for listener in raw["listeners"]:
        listener["port"] = _free_port()
        listener["bind_addresses"] = ["127.0.0.1"]
    raw["bcrypt_rounds"] = 4
    path.write_text(yaml.safe_dump(raw))
    return path


def _start(config_path: Path) -> tuple[subprocess.Popen[str], str]:
    raw = yaml.safe_load(config_path.read_text())
    base = f"http://127.0.0.1:{raw['listeners'][0]['port']}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "transom", "run", "--config-path", str(config_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    for _ in range(300):
        try:
            with urllib.request.urlopen(base + "/health", timeout=1) as resp:
                if resp.read() == b"OK":
                    return proc, base
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(proc.stdout.read() if proc.stdout else "exited") from None
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start")


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=30)


def test_generate_config_refuses_to_overwrite(config_path: Path) -> None:
    result = _transom("generate-config", "--server-name", "x", "--config-path", str(config_path))
    assert result.returncode == 1 and "already exists" in result.stderr


def test_migrate(config_path: Path) -> None:
    assert _transom("migrate", "--config-path", str(config_path)).returncode == 0
    assert (config_path.parent / "homeserver.db").exists()


def test_bad_config_stops_start_up_with_the_key(config_path: Path) -> None:
    raw = yaml.safe_load(config_path.read_text())
    raw["bcrypt_rounds"] = "many"
    config_path.write_text(yaml.safe_dump(raw))
    result = _transom("run", "--config-path", str(config_path))
    assert result.returncode == 2
    assert "bcrypt_rounds" in result.stderr and "Traceback" not in result.stderr


def test_run_register_user_and_graceful_sigterm(config_path: Path) -> None:
    proc, base = _start(config_path)
    try:
        result = _transom(
            "register-user", "--config-path", str(config_path),
            "--user", "admin", "--password", "s3cret", "--admin",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "@admin:cli.test" in result.stdout
        login = {"type": "m.login.password", "user": "admin", "password": "s3cret"}
        status, body = _http(base + "/_matrix/client/v3/login", login)
        assert status == 200
        token = body["access_token"]
    finally:
        code = _stop(proc)
    output = proc.stdout.read() if proc.stdout else ""
    assert code == 0, output
    assert "Traceback" not in output
    # The federation listener made its self-signed certificate on first run.
    assert (config_path.parent / "cli.test.tls.crt").exists()
    # Everything written before SIGTERM survived: the token still works after a restart.
    proc, base = _start(config_path)
    try:
        status, body = _http(base + "/_matrix/client/v3/account/whoami", token=token)
        assert (status, body["user_id"]) == (200, "@admin:cli.test")
    finally:
        assert _stop(proc) == 0


def test_register_user_without_running_server(config_path: Path) -> None:
    result = _transom(
        "register-user", "--config-path", str(config_path), "--user", "a", "--password", "b"
    )
    assert result.returncode != 0 and "cannot reach" in result.stderr
