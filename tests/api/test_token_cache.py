"""Access tokens and admin flags are cached per server: every way of ending a token makes it
fail at once (client-server API, "Client authentication", "Logout", "Password management",
"Account deactivation", "Device management")."""

from __future__ import annotations

from typing import Any

WHOAMI = "/_matrix/client/v3/account/whoami"


async def _password_auth(user_id: str) -> dict[str, Any]:
    return {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user_id},
            "password": "pw"}  # fmt: skip


async def _login(server: Any, user_id: str) -> str:
    status, body = await server.request(
        "POST", "/_matrix/client/v3/login",
        json={"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user_id},
              "password": "pw"},
    )  # fmt: skip
    assert status == 200, body
    token: str = body["access_token"]
    return token


async def _whoami_status(server: Any, token: str) -> int:
    status, _ = await server.request("GET", WHOAMI, token)
    return int(status)


async def test_logout_ends_cached_token_at_once(server: Any) -> None:
    _, token, _ = await server.register("cache_logout")
    assert await _whoami_status(server, token) == 200  # now cached
    status, _ = await server.request("POST", "/_matrix/client/v3/logout", token, json={})
    assert status == 200
    assert await _whoami_status(server, token) == 401


async def test_logout_all_ends_every_cached_token(server: Any) -> None:
    user_id, first, _ = await server.register("cache_all")
    second = await _login(server, user_id)
    assert await _whoami_status(server, first) == 200
    assert await _whoami_status(server, second) == 200
    status, _ = await server.request("POST", "/_matrix/client/v3/logout/all", second, json={})
    assert status == 200
    assert await _whoami_status(server, first) == 401
    assert await _whoami_status(server, second) == 401


async def test_deleted_device_and_password_change_end_cached_tokens(server: Any) -> None:
    user_id, token, _ = await server.register("cache_dev")
    other = await _login(server, user_id)
    third = await _login(server, user_id)
    for t in (token, other, third):
        assert await _whoami_status(server, t) == 200
    _, who = await server.request("GET", WHOAMI, other)
    status, body = await server.request(
        "DELETE", f"/_matrix/client/v3/devices/{who['device_id']}", token,
        json={"auth": await _password_auth(user_id)},
    )  # fmt: skip
    assert status == 200, body
    assert await _whoami_status(server, other) == 401
    assert await _whoami_status(server, token) == 200
    status, body = await server.request(
        "POST", "/_matrix/client/v3/account/password", token,
        json={"new_password": "pw", "logout_devices": True,
              "auth": await _password_auth(user_id)},
    )  # fmt: skip
    assert status == 200, body
    assert await _whoami_status(server, third) == 401
    assert await _whoami_status(server, token) == 200


async def test_deactivation_ends_cached_token(server: Any) -> None:
    user_id, token, _ = await server.register("cache_deact")
    assert await _whoami_status(server, token) == 200
    status, body = await server.request(
        "POST", "/_matrix/client/v3/account/deactivate", token,
        json={"auth": await _password_auth(user_id)},
    )  # fmt: skip
    assert status == 200, body
    assert await _whoami_status(server, token) == 401


async def test_admin_flag_change_is_seen_at_once(server: Any) -> None:
    user_id, _, _ = await server.register("cache_admin")
    accounts = server.hs.accounts
    assert await accounts.is_admin(user_id) is False  # now cached
    await server.hs.store.accounts.set_admin(user_id, True)
    assert await accounts.is_admin(user_id) is True
    await server.hs.store.accounts.set_admin(user_id, False)
    assert await accounts.is_admin(user_id) is False
