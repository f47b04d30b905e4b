"""``/account/whoami``, ``/account/password``, ``/account/deactivate`` (client-server API,
"Account registration and management")."""

from __future__ import annotations

from typing import Any

V3 = "/_matrix/client/v3"


def pw_auth(user: str, password: str = "pw", session: str | None = None) -> dict[str, Any]:
    auth = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user},
            "password": password}  # fmt: skip
    if session:
        auth["session"] = session
    return auth


async def _login(server: Any, user: str, password: str = "pw") -> dict[str, Any]:
    body = {"type": "m.login.password", "user": user, "password": password}
    status, resp = await server.request("POST", f"{V3}/login", json=body)
    assert status == 200, resp
    return dict(resp)


async def test_whoami(server: Any) -> None:
    user_id, token, device_id = await server.register("alice")
    status, body = await server.request("GET", "/_matrix/client/r0/account/whoami", token)
    assert (status, body) == (200, {"user_id": user_id, "device_id": device_id, "is_guest": False})


async def test_password_change_needs_uia(server: Any) -> None:
    _, token, _ = await server.register("bob")
    status, body = await server.request(
        "POST", f"{V3}/account/password", token, json={"new_password": "new"}
    )
    assert status == 401 and body["flows"] == [{"stages": ["m.login.password"]}]
    wrong = {"new_password": "new", "auth": pw_auth("bob", "bad", body["session"])}
    status, body2 = await server.request("POST", f"{V3}/account/password", token, json=wrong)
    assert status == 401 and body2["errcode"] == "M_FORBIDDEN"
    assert body2["session"] == body["session"]
    # Another user's credentials do not authenticate this one.
    await server.register("mallory", "mpw")
    other = {"new_password": "new", "auth": pw_auth("mallory", "mpw", body["session"])}
    status, _ = await server.request("POST", f"{V3}/account/password", token, json=other)
    assert status == 401


async def test_password_change_logs_out_other_devices(server: Any) -> None:
    _, token, device_id = await server.register("carol")
    other = await _login(server, "carol")
    body = {"new_password": "new", "auth": pw_auth("carol")}
    assert await server.request("POST", f"{V3}/account/password", token, json=body) == (200, {})
    assert (await server.request("GET", f"{V3}/account/whoami", token))[0] == 200
    status, _ = await server.request("GET", f"{V3}/account/whoami", other["access_token"])
    assert status == 401
    _, devices = await server.request("GET", f"{V3}/devices", token)
    assert [d["device_id"] for d in devices["devices"]] == [device_id]
    await _login(server, "carol", "new")
    status, _ = await server.request(
        "POST", f"{V3}/login", json={"type": "m.login.password", "user": "carol", "password": "pw"}
    )
    assert status == 403


async def test_password_change_can_keep_devices(server: Any) -> None:
    _, token, _ = await server.register("dan")
    other = await _login(server, "dan")
    body = {"new_password": "new", "logout_devices": False, "auth": pw_auth("dan")}
    assert await server.request("POST", f"{V3}/account/password", token, json=body) == (200, {})
    status, _ = await server.request("GET", f"{V3}/account/whoami", other["access_token"])
    assert status == 200


async def test_deactivate(server: Any) -> None:
    user_id, token, _ = await server.register("erin")
    other = await _login(server, "erin")
    called: list[str] = []

    async def hook(uid: str) -> None:
        called.append(uid)

    server.hs.accounts.on_deactivate.append(hook)
    status, body = await server.request("POST", f"{V3}/account/deactivate", token, json={})
    assert status == 401 and "session" in body
    status, body = await server.request(
        "POST", f"{V3}/account/deactivate", token, json={"auth": pw_auth("erin")}
    )
    assert (status, body) == (200, {"id_server_unbind_result": "no-support"})
    assert called == [user_id]
    for t in (token, other["access_token"]):
        status, body = await server.request("GET", f"{V3}/account/whoami", t)
        assert status == 401 and body["errcode"] == "M_UNKNOWN_TOKEN"
    status, _ = await server.request(
        "POST", f"{V3}/login", json={"type": "m.login.password", "user": "erin", "password": "pw"}
    )
    assert status == 403
    user = await server.hs.store.accounts.get_user(user_id)
    assert user.deactivated
