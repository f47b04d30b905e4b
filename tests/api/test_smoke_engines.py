"""The accounts API on both storage engines (a smoke subset; the rest runs on one engine)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_register_login_whoami_on_each_engine(engine: str, make_server: Any) -> None:
    server = await make_server()
    user_id, token, device_id = await server.register("alice", "secret")
    assert user_id == "@alice:test.local"
    status, body = await server.request("GET", "/_matrix/client/v3/account/whoami", token)
    assert (status, body) == (200, {"user_id": user_id, "device_id": device_id, "is_guest": False})
    login = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
             "password": "secret"}  # fmt: skip
    status, body = await server.request("POST", "/_matrix/client/v3/login", json=login)
    assert status == 200 and body["user_id"] == user_id
    status, body = await server.request("POST", "/_matrix/client/v3/logout", body["access_token"])
    assert status == 200
    status, body = await server.request("GET", "/_matrix/client/v3/devices", token)
    assert [d["device_id"] for d in body["devices"]] == [device_id]
