"""A bounded schemathesis run (4.32.5, fixed seed) against a running Transom on the membership
and event operations of the Client-Server API — knock, join, leave, invite, kick, ban,
createRoom, sync, send and state — from matrix-spec's OpenAPI bundle, with the check
``not_a_server_error``: whatever the fuzzer sends, Transom must not answer 5xx. (Response
shapes are checked in ``test_response_schemas``; schemathesis's ``response_schema_conformance``
cannot be used here because the spec's 200 schema for ``GET .../state/{eventType}/{stateKey}``
is a ``oneOf`` of ``{"type": "object"}`` and a client event, which every event matches twice.)

The server runs in this process; its federation is switched off for the run (server
discovery refuses every destination and every IP range is blacklisted) so that no generated
server name ever leads to traffic beyond loopback, and ``fuzz_hooks`` drops cases naming remote
servers. schemathesis runs as a subprocess from a scratch directory."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

V3 = "/_matrix/client/v3"
HERE = Path(__file__).parent
OPERATIONS = (
    r"^/_matrix/client/v3/(knock/\{roomIdOrAlias\}|join/\{roomIdOrAlias\}|createRoom|sync"
    r"|rooms/\{roomId\}/(join|leave|invite|kick|ban|send/\{eventType\}/\{txnId\}"
    r"|state/\{eventType\}/\{stateKey\}))$"
)
MAX_TIME_S = 60


def _schemathesis() -> str:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert found, "schemathesis is not installed (pip install -e '.[test]')"
    return found


async def _no_federation(server: Any) -> list[str]:
    """Refuse every outbound federation destination; returns the list of refused names."""
    from transom.services.federation.client import FederationUnreachable

    refused: list[str] = []

    async def refuse(server_name: str) -> Any:
        refused.append(server_name)
        raise FederationUnreachable(server_name, "federation is off during the fuzz run")

    discovery = server.hs.federation_client.discovery
    # Every outbound federation request resolves its destination here first.
    assert callable(getattr(discovery, "resolve_server", None)), "federation entry point moved"
    discovery.resolve_server = refuse
    return refused


async def _rooms(server: Any, alice_token: str, bob_token: str) -> list[str]:
    async def create(token: str, body: dict[str, Any]) -> str:
        status, resp = await server.request("POST", f"{V3}/createRoom", token, json=body)
        assert status == 200, resp
        room_id: str = resp["room_id"]
        return room_id

    knock = {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}
    return [
        await create(alice_token, {"name": "alice's"}),
        await create(bob_token, {"room_version": "10", "initial_state": [knock]}),
        await create(bob_token, {"preset": "public_chat"}),
    ]


async def test_fuzz_membership_and_events_never_500(
    make_server: Any, spec_dir: Path, tmp_path: Path
) -> None:
    server = await make_server(ip_range_blacklist=["0.0.0.0/0", "::/0"])
    refused = await _no_federation(server)
    _, alice_token, _ = await server.register("alice")
    _, bob_token, _ = await server.register("bob")
    room_ids = await _rooms(server, alice_token, bob_token)

    junit = tmp_path / "junit.xml"
    env = {
        **os.environ,
        "MATRIX_SERVER_NAME": server.server_name,
        "FUZZ_ROOM_IDS": ",".join(room_ids),
        "SCHEMATHESIS_HOOKS": "fuzz_hooks",
        "PYTHONPATH": os.pathsep.join([str(HERE), str(spec_dir)]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    cmd = [
        _schemathesis(), "run", str(spec_dir / "client-server.bundled.json"),
        "--url", server.base_url,
        "-H", f"Authorization: Bearer {alice_token}",
        "--generation-with-security-parameters", "false",
        "--generation-database", "none",
        "--include-path-regex", OPERATIONS,
        "--phases", "examples,coverage,fuzzing",
        "-n", "25", "--max-time", str(MAX_TIME_S), "--seed", "1",
        "-c", "not_a_server_error",
        "--request-timeout", "10",
        "--report", "junit", "--report-junit-path", str(junit),
    ]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *cmd, cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), MAX_TIME_S + 60)
    output = out.decode(errors="replace")
    (tmp_path / "schemathesis-output.txt").write_text(output)
    print(output[-3000:])
    assert junit.is_file(), f"schemathesis wrote no report:\n{output[-6000:]}"
    suites = ET.parse(junit).getroot()
    cases = suites.findall(".//testcase")
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    errored = [c.get("name") for c in cases if c.find("error") is not None]
    assert len(cases) >= 10, f"too few operations tested: {len(cases)}\n{output[-4000:]}"
    assert not failed and not errored, (
        f"server errors in {failed}, errors in {errored}:\n{output[-8000:]}"
    )
    assert proc.returncode == 0, output[-6000:]
    # Destinations the server tried to reach (and was refused) are harmless but worth seeing.
    print("federation refused:", json.dumps(sorted(set(refused))))
