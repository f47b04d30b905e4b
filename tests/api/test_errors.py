"""Matrix error mapping (client-server API, "Standard error response", "Rate limiting",
"Client authentication", "Web Browser Clients") over a real socket."""

from __future__ import annotations

from typing import Any

V3 = "/_matrix/client/v3"


async def test_unknown_endpoint_is_404_unrecognized(server: Any) -> None:
    status, body = await server.request("GET", "/_matrix/client/v3/no/such/thing")
    assert status == 404 and body["errcode"] == "M_UNRECOGNIZED"


async def test_wrong_method_on_known_path_is_405_unrecognized(server: Any) -> None:
    status, body = await server.request("DELETE", f"{V3}/login")
    assert status == 405 and body["errcode"] == "M_UNRECOGNIZED"


async def test_invalid_json_is_400_not_json(server: Any) -> None:
    status, body = await server.request("POST", f"{V3}/login", data="{not json")
    assert status == 400 and body["errcode"] == "M_NOT_JSON"
    status, body = await server.request("POST", f"{V3}/login", data="[1, 2]")
    assert status == 400 and body["errcode"] == "M_NOT_JSON"


async def test_wrong_field_type_is_400_bad_json(server: Any) -> None:
    body = {"type": "m.login.password", "user": "a", "password": 12}
    status, resp = await server.request("POST", f"{V3}/login", json=body)
    assert status == 400 and resp["errcode"] == "M_BAD_JSON"


async def test_missing_field_is_400_missing_param(server: Any) -> None:
    status, body = await server.request("POST", f"{V3}/login", json={"type": "m.login.password"})
    assert status == 400 and body["errcode"] == "M_MISSING_PARAM"


async def test_missing_token_is_401(server: Any) -> None:
    status, body = await server.request("GET", f"{V3}/account/whoami")
    assert status == 401 and body["errcode"] == "M_MISSING_TOKEN"


async def test_unknown_token_is_401_hard_logout(server: Any) -> None:
    status, body = await server.request("GET", f"{V3}/account/whoami", token="nope")
    assert status == 401
    assert body["errcode"] == "M_UNKNOWN_TOKEN" and body["soft_logout"] is False


async def test_token_in_query_parameter_works(server: Any) -> None:
    user_id, token, _ = await server.register("q")
    status, body = await server.request(
        "GET", f"{V3}/account/whoami", params={"access_token": token}
    )
    assert status == 200 and body["user_id"] == user_id


async def test_token_in_header_and_query_is_refused(server: Any) -> None:
    _, token, _ = await server.register("mix")
    status, body = await server.request(
        "GET", f"{V3}/account/whoami", token, params={"access_token": token}
    )
    assert status == 401 and body["errcode"] == "M_MISSING_TOKEN"


async def test_non_bearer_authorization_is_refused(server: Any) -> None:
    status, body = await server.request(
        "GET", f"{V3}/account/whoami", headers={"Authorization": "Basic abc"}
    )
    assert status == 401 and body["errcode"] == "M_MISSING_TOKEN"


async def test_oversized_body_is_413_too_large(make_server: Any) -> None:
    server = await make_server(max_request_body_size="1K")
    status, body = await server.request("POST", f"{V3}/login", data="{" + " " * 2000 + "}")
    assert status == 413 and body["errcode"] == "M_TOO_LARGE"


async def test_empty_body_is_an_empty_object(make_server: Any) -> None:
    server = await make_server(
        enable_registration=True, enable_registration_without_verification=True
    )
    # No body at all: parsed as {} so registration starts user-interactive auth.
    status, body = await server.request("POST", f"{V3}/register", data=b"")
    assert status == 401 and "flows" in body


async def test_rate_limited_is_429_with_retry_after(make_server: Any) -> None:
    server = await make_server(rc_login={"address": {"per_second": 0.001, "burst_count": 2}})
    await server.register("rl")
    login = {"type": "m.login.password", "user": "rl", "password": "pw"}
    for _ in range(2):
        status, _ = await server.request("POST", f"{V3}/login", json=login)
        assert status == 200
    async with server.session.post(server.base_url + f"{V3}/login", json=login) as resp:
        body = await resp.json()
        assert resp.status == 429
        assert body["errcode"] == "M_LIMIT_EXCEEDED" and body["retry_after_ms"] > 0
        assert int(resp.headers["Retry-After"]) >= body["retry_after_ms"] // 1000


async def test_unexpected_exception_is_500_unknown(server: Any, monkeypatch: Any) -> None:
    _, token, _ = await server.register("boom")

    async def explode(*args: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(server.hs.accounts, "list_devices", explode)
    status, body = await server.request("GET", f"{V3}/devices", token)
    assert status == 500 and body["errcode"] == "M_UNKNOWN"


async def test_cors_headers_and_options(server: Any) -> None:
    async with server.session.options(server.base_url + f"{V3}/login") as resp:
        assert resp.status == 204
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert "POST" in resp.headers["Access-Control-Allow-Methods"]
        assert "Authorization" in resp.headers["Access-Control-Allow-Headers"]
    async with server.session.get(server.base_url + "/nowhere") as resp:
        assert resp.headers["Access-Control-Allow-Origin"] == "*"


async def test_health_on_both_listeners(server: Any) -> None:
    assert await server.request("GET", "/health") == (200, "OK")
    assert await server.request("GET", "/health", base_url=server.federation_url) == (200, "OK")
