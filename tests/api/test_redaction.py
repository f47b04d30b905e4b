"""Redaction over the client-server API: the endpoint, idempotency per transaction, events
served redacted per room version with unsigned.redacted_because, and who may redact."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

ServerHandle = Any

V3 = "/_matrix/client/v3"


async def setup_room(server: ServerHandle, version: str) -> tuple[str, str, str, str, str]:
    _, a_token, _ = await server.register("alice")
    bob, b_token, _ = await server.register("bob")
    _status, body = await server.request(
        "POST", f"{V3}/createRoom", a_token, json={"room_version": version, "preset": "public_chat"}
    )
    room_id = body["room_id"]
    assert (await server.request("POST", f"{V3}/join/{room_id}", b_token, json={}))[0] == 200
    return room_id, a_token, b_token, bob, version


async def send(server: ServerHandle, token: str, room_id: str, text: str) -> str:
    status, body = await server.request(
        "PUT", f"{V3}/rooms/{room_id}/send/m.room.message/{text}", token,
        json={"msgtype": "m.text", "body": text},
    )  # fmt: skip
    assert status == 200, body
    return str(body["event_id"])


async def get_event(server: ServerHandle, token: str, room_id: str, event_id: str) -> Any:
    status, body = await server.request(
        "GET", f"{V3}/rooms/{room_id}/event/{quote(event_id, safe='')}", token
    )
    assert status == 200, body
    return body


def redact_path(room_id: str, event_id: str, txn: str) -> str:
    return f"{V3}/rooms/{room_id}/redact/{quote(event_id, safe='')}/{txn}"


@pytest.mark.parametrize("version", ["1", "3", "10", "11", "12"])
async def test_redaction_served_redacted(server: ServerHandle, version: str) -> None:
    room_id, a_token, b_token, _, _ = await setup_room(server, version)
    target = await send(server, b_token, room_id, "secret")
    # Bob redacts his own message; the same txn ID answers with the same redaction.
    path = redact_path(room_id, target, "r1")
    status, first = await server.request("PUT", path, b_token, json={"reason": "oops"})
    assert status == 200, first
    status, again = await server.request("PUT", path, b_token, json={"reason": "oops"})
    assert again["event_id"] == first["event_id"]
    event = await get_event(server, a_token, room_id, target)
    assert event["content"] == {}
    because = event["unsigned"]["redacted_because"]
    assert because["event_id"] == first["event_id"]
    assert because["type"] == "m.room.redaction"
    assert because["content"]["reason"] == "oops" and because["redacts"] == target
    # The redaction event itself carries `redacts` at top level and in content (v11 moved it).
    redaction = await get_event(server, a_token, room_id, first["event_id"])
    assert redaction["redacts"] == target and redaction["content"]["redacts"] == target
    # /messages serves it redacted as well.
    status, body = await server.request(
        "GET", f"{V3}/rooms/{room_id}/messages", a_token, params={"dir": "b", "limit": "5"}
    )
    served = next(e for e in body["chunk"] if e["event_id"] == target)
    assert served["content"] == {} and "redacted_because" in served["unsigned"]


@pytest.mark.parametrize("version", ["1", "11"])
async def test_who_may_redact(server: ServerHandle, version: str) -> None:
    room_id, a_token, b_token, _, _ = await setup_room(server, version)
    alices = await send(server, a_token, room_id, "from-alice")
    bobs = await send(server, b_token, room_id, "from-bob")
    # The room admin (redact level 50) may redact anyone's event.
    status, _ = await server.request("PUT", redact_path(room_id, bobs, "x"), a_token, json={})
    assert status == 200
    assert (await get_event(server, b_token, room_id, bobs))["content"] == {}
    # Bob (power 0) redacting Alice's event on the same server: the domains match, so it is
    # allowed (v1-v2 auth rule 11.2 via event IDs; v3+ "Handling redactions" condition 2).
    status, _ = await server.request("PUT", redact_path(room_id, alices, "y"), b_token, json={})
    assert status == 200
    assert (await get_event(server, a_token, room_id, alices))["content"] == {}


async def test_redaction_of_other_room_event_does_not_apply(server: ServerHandle) -> None:
    room_id, a_token, _b_token, _, _ = await setup_room(server, "10")
    status, body = await server.request("POST", f"{V3}/createRoom", a_token, json={})
    other_room = body["room_id"]
    target = await send(server, a_token, other_room, "elsewhere")
    status, _ = await server.request("PUT", redact_path(room_id, target, "z"), a_token, json={})
    assert status == 200
    event = await get_event(server, a_token, other_room, target)
    assert event["content"]["body"] == "elsewhere" and "redacted_because" not in event["unsigned"]


async def test_redaction_errors(server: ServerHandle) -> None:
    room_id, a_token, _b_token, _, _ = await setup_room(server, "10")
    _, c_token, _ = await server.register("carol")
    target = await send(server, a_token, room_id, "hello")
    status, body = await server.request("PUT", redact_path(room_id, target, "c"), c_token, json={})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = await server.request("PUT", redact_path(room_id, target, "c"), None, json={})
    assert status == 401
    status, body = await server.request(
        "PUT", redact_path(room_id, target, "d"), a_token, json={"reason": 5}
    )
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
