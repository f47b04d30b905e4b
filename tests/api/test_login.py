"""``/login``, ``/logout``, ``/logout/all`` (client-server API, "Login", "Logout")."""

from __future__ import annotations

from typing import Any

V3 = "/_matrix/client/v3"


def pw_login(user: str, password: str = "pw", **extra: Any) -> dict[str, Any]:
    ident = {"type": "m.id.user", "user": user}
    return {"type": "m.login.password", "identifier": ident, "password": password, **extra}


async def test_login_flows(server: Any) -> None:
    status, body = await server.request("GET", f"{V3}/login")
    assert status == 200 and {"type": "m.login.password"} in body["flows"]


async def test_login_by_localpart_full_id_and_legacy_user(server: Any) -> None:
    user_id, _, _ = await server.register("alice")
    for body in (
        pw_login("alice"),
        pw_login("@alice:test.local"),
        pw_login("ALICE"),
        {"type": "m.login.password", "user": "alice", "password": "pw"},
    ):
        status, resp = await server.request("POST", f"{V3}/login", json=body)
        assert status == 200, resp
        assert resp["user_id"] == user_id and resp["access_token"] and resp["device_id"]
        status, who = await server.request("GET", f"{V3}/account/whoami", resp["access_token"])
        assert who["device_id"] == resp["device_id"]


async def test_wrong_password_and_unknown_user_are_403(server: Any) -> None:
    await server.register("bob")
    for body in (pw_login("bob", "wrong"), pw_login("nobody"), pw_login("@bob:elsewhere")):
        status, resp = await server.request("POST", f"{V3}/login", json=body)
        assert status == 403 and resp["errcode"] == "M_FORBIDDEN"


async def test_unknown_login_type(server: Any) -> None:
    status, body = await server.request("POST", f"{V3}/login", json={"type": "m.login.sso"})
    assert status == 400 and body["errcode"] == "M_UNKNOWN"


async def test_deactivated_user_cannot_log_in(server: Any) -> None:
    user_id, _, _ = await server.register("carl")
    await server.hs.accounts.deactivate_user(user_id)
    # The password is gone with deactivation; a deactivated account with a password still answers
    # M_USER_DEACTIVATED.
    await server.hs.store.accounts.set_password_hash(user_id, await server.hs.passwords.hash("pw"))
    status, body = await server.request("POST", f"{V3}/login", json=pw_login("carl"))
    assert status == 403 and body["errcode"] == "M_USER_DEACTIVATED"


async def test_reusing_device_id_invalidates_old_token(server: Any) -> None:
    await server.register("dora")
    _, first = await server.request("POST", f"{V3}/login", json=pw_login("dora", device_id="D1"))
    _, second = await server.request("POST", f"{V3}/login", json=pw_login("dora", device_id="D1"))
    assert second["device_id"] == "D1"
    status, _ = await server.request("GET", f"{V3}/account/whoami", first["access_token"])
    assert status == 401
    status, _ = await server.request("GET", f"{V3}/account/whoami", second["access_token"])
    assert status == 200


async def test_logout_deletes_token_and_device(server: Any) -> None:
    _, token, _ = await server.register("eve")
    _, other = await server.request("POST", f"{V3}/login", json=pw_login("eve"))
    assert await server.request("POST", f"{V3}/logout", token) == (200, {})
    status, body = await server.request("GET", f"{V3}/account/whoami", token)
    assert status == 401 and body["errcode"] == "M_UNKNOWN_TOKEN"
    _, devices = await server.request("GET", f"{V3}/devices", other["access_token"])
    assert [d["device_id"] for d in devices["devices"]] == [other["device_id"]]


async def test_logout_all(server: Any) -> None:
    _, token, _ = await server.register("fay")
    _, other = await server.request("POST", f"{V3}/login", json=pw_login("fay"))
    assert await server.request("POST", f"{V3}/logout/all", token) == (200, {})
    for t in (token, other["access_token"]):
        status, _ = await server.request("GET", f"{V3}/account/whoami", t)
        assert status == 401
    assert await server.hs.store.accounts.list_devices("@fay:test.local") == []


async def test_failed_attempts_are_rate_limited(make_server: Any) -> None:
    server = await make_server(
        rc_login={"failed_attempts": {"per_second": 0.001, "burst_count": 2}}
    )
    await server.register("gus")
    for _ in range(2):
        status, _ = await server.request("POST", f"{V3}/login", json=pw_login("gus", "bad"))
        assert status == 403
    status, body = await server.request("POST", f"{V3}/login", json=pw_login("gus"))
    assert status == 429 and body["errcode"] == "M_LIMIT_EXCEEDED"
