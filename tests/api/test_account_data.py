"""Account data over the client-server API ("Client Config"): global and per room, own only,
server-controlled types refused."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

ServerHandle = Any
V3 = "/_matrix/client/v3"


async def test_global_account_data_roundtrip_and_changes(server: ServerHandle) -> None:
    alice, token, _ = await server.register("alice")
    path = f"{V3}/user/{quote(alice)}/account_data/org.example.config"
    status, body = await server.request("GET", path, token)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    await server.request("PUT", f"{V3}/user/{quote(alice)}/account_data/x.first", token, json={})
    before = server.hs.rooms.streams.current
    assert before > 0
    status, body = await server.request("PUT", path, token, json={"a": 1})
    assert (status, body) == (200, {})
    assert server.hs.rooms.streams.current == before + 1
    status, body = await server.request("PUT", path, token, json={"a": 2})
    status, body = await server.request("GET", path, token)
    assert (status, body) == (200, {"a": 2})
    global_data, rooms = await server.hs.account_data.changes(alice, before)
    assert global_data == {"org.example.config": {"a": 2}} and rooms == {}
    assert await server.hs.account_data.changes(alice, before + 2) == ({}, {})
    # From the start of the stream, the server's m.push_rules is there too.
    initial, _ = await server.hs.account_data.changes(alice, 0)
    assert "global" in initial["m.push_rules"]


async def test_room_account_data(server: ServerHandle) -> None:
    alice, token, _ = await server.register("alice")
    room = "!room:" + server.server_name
    path = f"{V3}/user/{quote(alice)}/rooms/{quote(room)}/account_data/m.tag"
    status, _ = await server.request("PUT", path, token, json={"tags": {"u.work": {}}})
    assert status == 200
    status, body = await server.request("GET", path, token)
    assert (status, body) == (200, {"tags": {"u.work": {}}})
    # Room data is not global data.
    status, _ = await server.request("GET", f"{V3}/user/{quote(alice)}/account_data/m.tag", token)
    assert status == 404
    _, rooms = await server.hs.account_data.changes(alice, 0)
    assert rooms == {room: {"m.tag": {"tags": {"u.work": {}}}}}


async def test_account_data_errors(server: ServerHandle) -> None:
    alice, token, _ = await server.register("alice")
    _, b_tok, _ = await server.register("bob")
    own = f"{V3}/user/{quote(alice)}/account_data/x.y"
    status, body = await server.request("PUT", own, b_tok, json={})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = await server.request("GET", own, b_tok)
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = await server.request("PUT", own, token, data="[1]")
    assert (status, body["errcode"]) == (400, "M_NOT_JSON")
    status, body = await server.request(
        "PUT", f"{V3}/user/{quote(alice)}/account_data/m.push_rules", token, json={}
    )
    assert (status, body["errcode"]) == (405, "M_BAD_JSON")
    room = "!r:" + server.server_name
    status, body = await server.request(
        "PUT", f"{V3}/user/{quote(alice)}/rooms/{quote(room)}/account_data/m.fully_read",
        token, json={"event_id": "$x"},
    )  # fmt: skip
    assert (status, body["errcode"]) == (405, "M_BAD_JSON")
    status, body = await server.request(
        "PUT", f"{V3}/user/{quote(alice)}/rooms/{quote('@notaroom:x')}/account_data/a.b",
        token, json={},
    )  # fmt: skip
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await server.request(
        "GET", f"{V3}/user/{quote(alice)}/rooms/{quote('nope')}/account_data/a.b", token
    )
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    # The server-maintained m.push_rules can be read, with defaults before any change.
    status, body = await server.request(
        "GET", f"{V3}/user/{quote(alice)}/account_data/m.push_rules", token
    )
    assert status == 200 and body["global"]["override"][0]["rule_id"] == ".m.rule.master"
