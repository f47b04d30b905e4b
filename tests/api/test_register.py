"""``/register`` and ``/register/available`` (client-server API, "Account registration")."""

from __future__ import annotations

from typing import Any

import pytest

V3 = "/_matrix/client/v3"
OPEN = {"enable_registration": True, "enable_registration_without_verification": True}


@pytest.fixture
async def open_server(make_server: Any) -> Any:
    return await make_server(**OPEN)


async def _register(server: Any, body: dict[str, Any], prefix: str = V3) -> tuple[int, Any]:
    status, first = await server.request("POST", f"{prefix}/register", json=body)
    if status != 401:
        return status, first
    assert first["flows"] == [{"stages": ["m.login.dummy"]}] and first["params"] == {}
    auth = {"type": "m.login.dummy", "session": first["session"]}
    return await server.request("POST", f"{prefix}/register", json={**body, "auth": auth})


async def test_registration_disabled_is_403(server: Any) -> None:
    status, body = await server.request("POST", f"{V3}/register", json={"username": "a"})
    assert status == 403 and body["errcode"] == "M_FORBIDDEN"


async def test_guest_registration_is_forbidden(open_server: Any) -> None:
    status, body = await open_server.request(
        "POST", f"{V3}/register", json={}, params={"kind": "guest"}
    )
    assert status == 403 and body["errcode"] == "M_GUEST_ACCESS_FORBIDDEN"


async def test_uia_flow_then_registration(open_server: Any) -> None:
    status, first = await open_server.request(
        "POST", f"{V3}/register", json={"username": "Bob", "password": "pw"}
    )
    assert status == 401 and isinstance(first["session"], str)
    status, body = await _register(
        open_server,
        {"username": "Bob", "password": "pw", "device_id": "DEV1",
         "initial_device_display_name": "phone"},
    )  # fmt: skip
    assert status == 200
    assert body["user_id"] == "@bob:test.local" and body["device_id"] == "DEV1"
    status, dev = await open_server.request("GET", f"{V3}/devices/DEV1", body["access_token"])
    assert status == 200 and dev["display_name"] == "phone"


async def test_inhibit_login_returns_no_token(open_server: Any) -> None:
    status, body = await _register(
        open_server, {"username": "carol", "password": "pw", "inhibit_login": True}
    )
    assert status == 200 and body == {"user_id": "@carol:test.local"}


async def test_register_without_username_generates_one(open_server: Any) -> None:
    status, body = await _register(open_server, {"password": "pw"})
    assert status == 200 and body["user_id"].endswith(":test.local")


async def test_r0_alias(open_server: Any) -> None:
    status, body = await _register(open_server, {"username": "old"}, "/_matrix/client/r0")
    assert status == 200 and body["user_id"] == "@old:test.local"


@pytest.mark.parametrize("name", ["bad name", "_reserved", "ümlaut", "a" * 260])
async def test_invalid_username(open_server: Any, name: str) -> None:
    status, body = await open_server.request("POST", f"{V3}/register", json={"username": name})
    assert status == 400 and body["errcode"] == "M_INVALID_USERNAME"


async def test_username_in_use_even_by_case(open_server: Any) -> None:
    await open_server.register("dave")
    for name in ("dave", "DAVE"):
        status, body = await open_server.request("POST", f"{V3}/register", json={"username": name})
        assert status == 400 and body["errcode"] == "M_USER_IN_USE"


async def test_register_available(server: Any) -> None:
    await server.register("erin")
    path = f"{V3}/register/available"
    assert await server.request("GET", path, params={"username": "frank"}) == (
        200,
        {"available": True},
    )
    status, body = await server.request("GET", path, params={"username": "erin"})
    assert status == 400 and body["errcode"] == "M_USER_IN_USE"
    status, body = await server.request("GET", path, params={"username": "no way"})
    assert status == 400 and body["errcode"] == "M_INVALID_USERNAME"
    status, body = await server.request("GET", path)
    assert status == 400 and body["errcode"] == "M_MISSING_PARAM"


async def test_wrong_uia_stage_is_rejected(open_server: Any) -> None:
    _, first = await open_server.request("POST", f"{V3}/register", json={"username": "gil"})
    auth = {"type": "m.login.password", "session": first["session"]}
    status, body = await open_server.request(
        "POST", f"{V3}/register", json={"username": "gil", "auth": auth}
    )
    assert status == 401 and body["session"] == first["session"]
    assert body["errcode"] == "M_UNRECOGNIZED"
