"""Key fetching and caching, X-Matrix request authentication and the notary endpoints
(server-server API "Retrieving server keys", "Request Authentication"), between two servers."""

from __future__ import annotations

from typing import Any

import pytest
from nacl.signing import VerifyKey
from signedjson.key import get_verify_key
from unpaddedbase64 import decode_base64

from transom.api.routing import ApiRequest, Route, add_routes
from transom.core.signing import verify_json
from transom.core.xmatrix import build_authorization_header
from transom.services.federation import FederationError, FederationUnreachable

WHOAMI = "/_matrix/federation/unstable/org.transom.test/whoami"


def key_id_of(server: Any) -> str:
    key = server.hs.signing_key
    return f"{key.alg}:{key.version}"


def verify_key_of(server: Any) -> VerifyKey:
    return VerifyKey(bytes(get_verify_key(server.hs.signing_key)))


async def test_fetches_and_caches_remote_keys(two_servers: Any) -> None:
    a, b = two_servers
    key_id = key_id_of(b)
    keys = await a.hs.keyring.get_server_verify_keys(b.server_name, [key_id])
    assert bytes(keys[key_id]) == bytes(verify_key_of(b))
    sent = a.hs.federation_client.requests_sent
    await b.stop()  # the second lookup must not need B at all
    again = await a.hs.keyring.get_server_verify_keys(
        b.server_name, [key_id], min_valid_until_ts=a.hs.clock.time_msec()
    )
    assert bytes(again[key_id]) == bytes(verify_key_of(b))
    assert a.hs.federation_client.requests_sent == sent


async def test_unknown_key_id_is_refetched_and_left_out(two_servers: Any) -> None:
    a, b = two_servers
    await a.hs.keyring.get_server_verify_keys(b.server_name, [key_id_of(b)])
    sent = a.hs.federation_client.requests_sent
    keys = await a.hs.keyring.get_server_verify_keys(b.server_name, ["ed25519:nope"])
    assert keys == {}
    assert a.hs.federation_client.requests_sent == sent + 1


async def test_own_keys_answered_locally(two_servers: Any) -> None:
    a, _ = two_servers
    keys = await a.hs.keyring.get_server_verify_keys(a.server_name, [key_id_of(a)])
    assert bytes(keys[key_id_of(a)]) == bytes(verify_key_of(a))
    assert a.hs.federation_client.requests_sent == 0


async def test_unreachable_server_gives_no_keys(make_fed_server: Any) -> None:
    a = await make_fed_server()
    keys = await a.hs.keyring.get_server_verify_keys("127.0.0.1:1", ["ed25519:x"])
    assert keys == {}


def _install_whoami(server: Any, seen: list[tuple[str, Any]]) -> None:
    """A federation route on B's listener that records who called it."""

    async def whoami(req: ApiRequest) -> dict[str, Any]:
        body = (await req.body()).data if req.http.method != "GET" else None
        seen.append((req.origin, body))
        # "Resolving server names" step 1: the Host header is the server name, with its port.
        assert req.http.headers["Host"] == server.server_name
        return {"origin": req.origin}

    app = server.running.runners[1].app
    app.router._frozen = False  # add a test-only route to the running application
    add_routes(app, server.hs, [Route("GET", (WHOAMI,), whoami, federation=True),
                                Route("POST", (WHOAMI,), whoami, federation=True)])  # fmt: skip
    app.router._frozen = True


async def test_signed_requests_authenticate_with_origin(two_servers: Any) -> None:
    a, b = two_servers
    seen: list[tuple[str, Any]] = []
    _install_whoami(b, seen)
    got = await a.hs.federation_client.get_json(
        b.server_name, WHOAMI, {"x": ["1", "two words"], "y": "ü"}
    )
    assert got == {"origin": a.server_name}
    got = await a.hs.federation_client.post_json(b.server_name, WHOAMI, {"k": [1, "é"]})
    assert got == {"origin": a.server_name}
    assert seen == [(a.server_name, None), (a.server_name, {"k": [1, "é"]})]


def _header(origin: str, destination: str, key: Any, key_id: str, **kw: Any) -> str:
    return build_authorization_header(
        origin=origin, destination=destination, key_id=key_id, signing_key=key, **kw
    )


@pytest.mark.parametrize("case", ["missing", "malformed", "forged", "wrong_destination",
                                  "unknown_key", "tampered_body", "other_uri"])  # fmt: skip
async def test_bad_requests_are_refused(two_servers: Any, case: str) -> None:
    a, b = two_servers
    seen: list[tuple[str, Any]] = []
    _install_whoami(b, seen)
    key, key_id = a.hs.signing_key, key_id_of(a)
    body = {"n": 1}
    kw = {"method": "POST", "uri": WHOAMI, "content": body}
    headers = {"Authorization": _header(a.server_name, b.server_name, key, key_id, **kw)}
    sent_body = body
    if case == "missing":
        headers = {}
    elif case == "malformed":
        headers = {"Authorization": "X-Matrix origin=,,"}
    elif case == "forged":
        # Signed by B's key but claiming to come from A.
        headers["Authorization"] = _header(a.server_name, b.server_name, b.hs.signing_key,
                                           key_id, **kw)  # fmt: skip
    elif case == "wrong_destination":
        headers["Authorization"] = _header(a.server_name, "elsewhere.example", key, key_id, **kw)
    elif case == "unknown_key":
        headers["Authorization"] = _header(a.server_name, b.server_name, key, "ed25519:zz", **kw)
    elif case == "tampered_body":
        sent_body = {"n": 2}
    elif case == "other_uri":
        kw["uri"] = WHOAMI + "?a=1"
        headers["Authorization"] = _header(a.server_name, b.server_name, key, key_id, **kw)
    status, resp = await b.federation_request("POST", WHOAMI, json=sent_body, headers=headers)
    assert status == 401, resp
    assert resp["errcode"] == "M_UNAUTHORIZED"
    assert seen == []


async def test_peer_errors_and_unreachable(two_servers: Any) -> None:
    a, b = two_servers
    with pytest.raises(FederationError) as info:
        await a.hs.federation_client.get_json(b.server_name, "/_matrix/federation/v1/nothing")
    assert info.value.status == 404
    assert info.value.errcode == "M_UNRECOGNIZED"
    await b.stop()
    with pytest.raises(FederationUnreachable):
        await a.hs.federation_client.get_json(b.server_name, "/_matrix/federation/v1/version")


async def test_blacklisted_address_is_refused(make_fed_server: Any) -> None:
    b = await make_fed_server()
    a = await make_fed_server(ip_range_blacklist=["127.0.0.0/8"])
    with pytest.raises(FederationUnreachable, match="blacklist"):
        await a.hs.federation_client.get_json(b.server_name, "/_matrix/federation/v1/version")
    # The whitelist punches a hole in the blacklist.
    c = await make_fed_server(ip_range_blacklist=["127.0.0.0/8"],
                              ip_range_whitelist=["127.0.0.1/32"])  # fmt: skip
    got = await c.hs.federation_client.get_json(b.server_name, "/_matrix/federation/v1/version")
    assert got["server"]["name"] == "Transom"


async def test_notary_get_is_signed_by_origin_and_notary(two_servers: Any) -> None:
    a, b = two_servers
    status, body = await a.federation_request("GET", f"/_matrix/key/v2/query/{b.server_name}")
    assert status == 200, body
    [response] = body["server_keys"]
    assert response["server_name"] == b.server_name
    verify_json(response, b.server_name, {key_id_of(b): verify_key_of(b)})
    verify_json(response, a.server_name, {key_id_of(a): verify_key_of(a)})
    key = response["verify_keys"][key_id_of(b)]["key"]
    assert decode_base64(key) == bytes(verify_key_of(b))


async def test_notary_post_answers_from_cache_when_origin_is_down(two_servers: Any) -> None:
    a, b = two_servers
    query = {"server_keys": {b.server_name: {key_id_of(b): {}}, a.server_name: {}}}
    status, body = await a.federation_request("POST", "/_matrix/key/v2/query", json=query)
    assert status == 200, body
    by_name = {r["server_name"]: r for r in body["server_keys"]}
    assert set(by_name) == {a.server_name, b.server_name}
    verify_json(by_name[a.server_name], a.server_name, {key_id_of(a): verify_key_of(a)})
    await b.stop()
    # B is gone; a minimum validity in the past is satisfied by the cached response.
    query = {"server_keys": {b.server_name: {key_id_of(b): {"minimum_valid_until_ts": 1}}}}
    status, body = await a.federation_request("POST", "/_matrix/key/v2/query", json=query)
    [cached] = body["server_keys"]
    verify_json(cached, b.server_name, {key_id_of(b): verify_key_of(b)})
    verify_json(cached, a.server_name, {key_id_of(a): verify_key_of(a)})
    status, body = await a.federation_request(
        "POST", "/_matrix/key/v2/query", json={"server_keys": {}}
    )
    assert (status, body) == (200, {"server_keys": []})
    status, body = await a.federation_request("GET", "/_matrix/key/v2/query/127.0.0.1:1")
    assert (status, body) == (200, {"server_keys": []})
