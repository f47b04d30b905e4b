"""Smoke test of the Synapse peer harness: it starts, serves the Client-Server API on loopback
(``GET /_matrix/client/versions``, spec "API Standards"), registers users both through
``POST /_matrix/client/v3/register`` with ``m.login.dummy`` ("Account registration") and through
Synapse's shared-secret admin API, and serves signed server keys over TLS
(Server-Server API "Retrieving server keys").

The first run installs Synapse into ``.venv-synapse/`` (about a minute). Set
``TRANSOM_SKIP_SYNAPSE=1`` to skip on machines without access to PyPI.
"""

from __future__ import annotations

import os
from pathlib import Path

import aiohttp
import pytest

from .synapse_peer import SynapsePeer

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("TRANSOM_SKIP_SYNAPSE")), reason="TRANSOM_SKIP_SYNAPSE is set"
)


async def test_synapse_peer_starts_registers_and_stops() -> None:
    peer = SynapsePeer(bcrypt_rounds=4)
    async with peer:
        assert peer.server_name == f"127.0.0.1:{peer.federation_port}"
        assert Path(f"/proc/{peer.pid}").exists()
        directory = peer.directory
        async with aiohttp.ClientSession() as session:
            async with session.get(peer.client_url + "/_matrix/client/versions") as response:
                assert response.status == 200
                assert "v1.11" in (await response.json())["versions"]

            body = {"username": "bob", "password": "pw-bob", "auth": {"type": "m.login.dummy"}}
            url = peer.client_url + "/_matrix/client/v3/register"
            async with session.post(url, json=body) as response:
                assert response.status == 200, await response.text()
                registered = await response.json()
            assert registered["user_id"] == f"@bob:{peer.server_name}"

            user_id, token = await peer.register("alice", "pw-alice", admin=True)
            assert user_id == f"@alice:{peer.server_name}"
            headers = {"Authorization": f"Bearer {token}"}
            url = peer.client_url + "/_matrix/client/v3/account/whoami"
            async with session.get(url, headers=headers) as response:
                assert (await response.json())["user_id"] == user_id

            url = peer.federation_url + "/_matrix/key/v2/server"
            async with session.get(url, ssl=False) as response:
                keys = await response.json()
            assert keys["server_name"] == peer.server_name
            assert peer.server_name in keys["signatures"]
        pid = peer.pid
    assert not _is_synapse(pid), "Synapse still runs (or is an unreaped zombie) after stop()"
    assert directory is not None and not directory.exists()


def _is_synapse(pid: int) -> bool:
    """Whether ``pid`` is (still) a Synapse process; a zombie has an empty cmdline but a stat."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state == "Z" or b"synapse.app.homeserver" in cmdline
