"""matrix-js-sdk against a running Transom: registration (m.login.dummy), password login, room
creation, the knock lifecycle (Client-Server API "Knocking on rooms", room versions 7+) and
messages received through /sync, driven by ``tests/clients/js/knock_flow.mjs`` under ``node``.

The Node project in ``tests/clients/js`` pins matrix-js-sdk in ``package-lock.json``; the test
runs ``npm ci`` there when ``node_modules`` is missing. It is skipped only when ``node`` or
``npm`` is not installed."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

JS_DIR = Path(__file__).parent / "js"
ServerHandle = Any

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="node and npm are needed to run the matrix-js-sdk client test",
)


async def _run(*cmd: str, timeout: float) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *cmd, cwd=JS_DIR, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def _ensure_installed() -> None:
    if (JS_DIR / "node_modules" / "matrix-js-sdk").is_dir():
        return
    code, out, err = await _run("npm", "ci", "--no-audit", "--no-fund", timeout=300)
    assert code == 0, f"npm ci failed in {JS_DIR}:\n{out}\n{err}"


@pytest.mark.parametrize("room_version", ["10", "12"])
async def test_js_sdk_knock_invite_join_and_messages(make_server: Any, room_version: str) -> None:
    await _ensure_installed()
    server: ServerHandle = await make_server(
        enable_registration=True, enable_registration_without_verification=True
    )
    code, out, err = await _run(
        "node", "knock_flow.mjs", server.base_url, server.server_name, room_version, timeout=120
    )
    steps = [json.loads(line[5:])["step"] for line in out.splitlines() if line.startswith("STEP ")]
    assert code == 0, f"steps done: {steps}\nstderr:\n{err[-4000:]}"
    assert steps == [
        "registered",
        "logged_in",
        "created",
        "knocked",
        "alice_saw_knock",
        "bob_saw_own_knock",
        "bob_saw_invite",
        "joined",
        "messages_exchanged",
        "done",
    ]
