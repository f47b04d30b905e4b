"""Service-level fixtures: a HomeServer opened on the engine under test, without listeners.

``hs`` is named by the test module's ``SERVER`` (user IDs in the module are built from it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from signedjson.key import generate_signing_key, write_signing_keys

from transom.app import HomeServer
from transom.config import parse_config


@pytest.fixture
async def hs(
    store_config: tuple[str, dict[str, Any]], tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[HomeServer]:
    key_path = tmp_path / "signing.key"
    with open(key_path, "w") as f:
        write_signing_keys(f, [generate_signing_key("a")])
    engine, args = store_config
    config = parse_config(
        {
            "server_name": request.module.SERVER,
            "signing_key_path": str(key_path),
            "database": {"name": engine, "args": args},
            "listeners": [{"port": 0, "tls": False, "resources": [{"names": ["client"]}]}],
        },
        tmp_path,
    )
    server = await HomeServer.open(config)
    try:
        yield server
    finally:
        await server.close()
