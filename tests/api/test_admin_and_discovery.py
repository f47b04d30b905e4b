"""Shared-secret registration (Synapse's admin API), /versions, /capabilities, well-known URIs,
and the federation listener's version and key endpoints."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from signedjson.key import decode_verify_key_bytes
from signedjson.sign import verify_signed_json
from unpaddedbase64 import decode_base64

ADMIN = "/_synapse/admin/v1/register"
SECRET = "test-shared-secret"


def _mac(nonce: str, user: str, password: str, admin: bool, secret: str = SECRET) -> str:
    msg = "\x00".join([nonce, user, password, "admin" if admin else "notadmin"])
    return hmac.new(secret.encode(), msg.encode(), hashlib.sha1).hexdigest()


async def test_shared_secret_registration(server: Any) -> None:
    _, body = await server.request("GET", ADMIN)
    nonce = body["nonce"]
    req = {"nonce": nonce, "username": "root", "password": "pw", "admin": True,
           "mac": _mac(nonce, "root", "pw", True)}  # fmt: skip
    status, resp = await server.request("POST", ADMIN, json=req)
    assert status == 200 and resp["user_id"] == "@root:test.local" and resp["access_token"]
    assert (await server.hs.store.accounts.get_user("@root:test.local")).admin
    # Nonces are single-use.
    status, resp = await server.request("POST", ADMIN, json=req)
    assert status == 400


async def test_shared_secret_wrong_mac(server: Any) -> None:
    _, body = await server.request("GET", ADMIN)
    nonce = body["nonce"]
    req = {"nonce": nonce, "username": "x", "password": "pw", "admin": False,
           "mac": _mac(nonce, "x", "pw", False, secret="wrong")}  # fmt: skip
    status, resp = await server.request("POST", ADMIN, json=req)
    assert status == 403 and resp["errcode"] == "M_FORBIDDEN"
    # Claiming admin with a MAC made for notadmin fails too.
    _, body = await server.request("GET", ADMIN)
    req = {"nonce": body["nonce"], "username": "x", "password": "pw", "admin": True,
           "mac": _mac(body["nonce"], "x", "pw", False)}  # fmt: skip
    status, _ = await server.request("POST", ADMIN, json=req)
    assert status == 403


async def test_shared_secret_disabled(make_server: Any) -> None:
    server = await make_server(registration_shared_secret=None)
    status, body = await server.request("GET", ADMIN)
    assert status == 400 and body["errcode"] == "M_UNKNOWN"


async def test_versions(server: Any) -> None:
    status, body = await server.request("GET", "/_matrix/client/versions")
    assert status == 200 and body["unstable_features"] == {}
    assert "r0.6.1" in body["versions"] and "v1.1" in body["versions"]
    assert "v1.18" in body["versions"]


async def test_capabilities(server: Any) -> None:
    _, token, _ = await server.register("cap")
    status, body = await server.request("GET", "/_matrix/client/v3/capabilities", token)
    assert status == 200
    versions = body["capabilities"]["m.room_versions"]
    assert versions["default"] == "12"
    assert versions["available"] == {str(v): "stable" for v in range(1, 13)}
    assert body["capabilities"]["m.change_password"] == {"enabled": True}


async def test_well_known(make_server: Any) -> None:
    server = await make_server(public_baseurl="https://matrix.example.org")
    status, body = await server.request("GET", "/.well-known/matrix/client")
    assert (status, body) == (200, {"m.homeserver": {"base_url": "https://matrix.example.org/"}})
    status, body = await server.request("GET", "/.well-known/matrix/server")
    assert status == 200 and body["m.server"].startswith("test.local:")


async def test_federation_version_and_keys(server: Any) -> None:
    fed = server.federation_url
    status, body = await server.request("GET", "/_matrix/federation/v1/version", base_url=fed)
    assert status == 200 and body["server"]["name"] == "Transom"
    status, keys = await server.request("GET", "/_matrix/key/v2/server", base_url=fed)
    assert status == 200 and keys["server_name"] == "test.local"
    assert keys["valid_until_ts"] > server.hs.clock.time_msec()
    [(key_id, key)] = keys["verify_keys"].items()
    assert key_id == "ed25519:a_test"
    verify_key = decode_verify_key_bytes(key_id, decode_base64(key["key"]))
    verify_signed_json(keys, "test.local", verify_key)  # raises if the self-signature is wrong
    # The client listener does not serve the federation API.
    status, body = await server.request("GET", "/_matrix/federation/v1/version")
    assert status == 404 and body["errcode"] == "M_UNRECOGNIZED"
