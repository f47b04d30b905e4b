"""Device management (client-server API, "Device management")."""

from __future__ import annotations

from typing import Any

V3 = "/_matrix/client/v3"


def pw_auth(user: str, password: str = "pw") -> dict[str, Any]:
    return {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user},
            "password": password}  # fmt: skip


async def _login(server: Any, user: str, device_id: str) -> str:
    body = {"type": "m.login.password", "user": user, "password": "pw", "device_id": device_id,
            "initial_device_display_name": f"dev {device_id}"}  # fmt: skip
    status, resp = await server.request("POST", f"{V3}/login", json=body)
    assert status == 200
    return str(resp["access_token"])


async def test_list_and_get_devices(server: Any) -> None:
    _, token, device_id = await server.register("alice")
    await _login(server, "alice", "SECOND")
    status, body = await server.request("GET", f"{V3}/devices", token)
    assert status == 200
    by_id = {d["device_id"]: d for d in body["devices"]}
    assert set(by_id) == {device_id, "SECOND"}
    assert by_id["SECOND"]["display_name"] == "dev SECOND"
    # The device used for the request was seen from loopback.
    assert by_id[device_id]["last_seen_ip"] == "127.0.0.1" and by_id[device_id]["last_seen_ts"]
    status, one = await server.request("GET", f"{V3}/devices/SECOND", token)
    assert status == 200 and one["device_id"] == "SECOND"
    status, body = await server.request("GET", f"{V3}/devices/NOPE", token)
    assert status == 404 and body["errcode"] == "M_NOT_FOUND"


async def test_other_users_devices_are_invisible(server: Any) -> None:
    _, token, _ = await server.register("bob")
    await server.register("carol")
    await _login(server, "carol", "CAROLDEV")
    status, _ = await server.request("GET", f"{V3}/devices/CAROLDEV", token)
    assert status == 404


async def test_update_device(server: Any) -> None:
    _, token, device_id = await server.register("dan")
    path = f"{V3}/devices/{device_id}"
    body = {"display_name": "laptop"}
    assert await server.request("PUT", path, token, json=body) == (200, {})
    _, dev = await server.request("GET", path, token)
    assert dev["display_name"] == "laptop"
    status, err = await server.request("PUT", f"{V3}/devices/NEW", token, json=body)
    assert status == 404 and err["errcode"] == "M_NOT_FOUND"
    status, err = await server.request("PUT", path, token, json={"display_name": 5})
    assert status == 400 and err["errcode"] == "M_BAD_JSON"


async def test_delete_device_needs_uia(server: Any) -> None:
    _, token, _ = await server.register("erin")
    other = await _login(server, "erin", "OLD")
    status, body = await server.request("DELETE", f"{V3}/devices/OLD", token, json={})
    assert status == 401 and body["flows"] == [{"stages": ["m.login.password"]}]
    auth = {**pw_auth("erin"), "session": body["session"]}
    status, _ = await server.request("DELETE", f"{V3}/devices/OLD", token, json={"auth": auth})
    assert status == 200
    status, _ = await server.request("GET", f"{V3}/account/whoami", other)
    assert status == 401
    status, _ = await server.request("GET", f"{V3}/devices/OLD", token)
    assert status == 404


async def test_delete_devices(server: Any) -> None:
    _, token, device_id = await server.register("fay")
    await _login(server, "fay", "A")
    await _login(server, "fay", "B")
    body: dict[str, Any] = {"devices": ["A", "B"]}
    status, _ = await server.request("POST", f"{V3}/delete_devices", token, json=body)
    assert status == 401
    body["auth"] = pw_auth("fay")
    assert await server.request("POST", f"{V3}/delete_devices", token, json=body) == (200, {})
    _, listed = await server.request("GET", f"{V3}/devices", token)
    assert [d["device_id"] for d in listed["devices"]] == [device_id]
    status, err = await server.request("POST", f"{V3}/delete_devices", token, json={})
    assert status == 400 and err["errcode"] == "M_MISSING_PARAM"
