"""/messages and /context over the client-server API: pagination in both directions without gaps
or duplicates, tokens shared with sync, filters, lazy-loaded members, errors, and the room
history visibility matrix on /messages, /context and /event."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

ServerHandle = Any

V3 = "/_matrix/client/v3"
R0 = "/_matrix/client/r0"


async def create_room(server: ServerHandle, token: str, **body: object) -> str:
    status, resp = await server.request("POST", f"{V3}/createRoom", token, json=body)
    assert status == 200, resp
    return str(resp["room_id"])


async def send(server: ServerHandle, token: str, room_id: str, text: str, **extra: Any) -> str:
    status, body = await server.request(
        "PUT", f"{V3}/rooms/{room_id}/send/m.room.message/{quote(text)}", token,
        json={"msgtype": "m.text", "body": text, **extra},
    )  # fmt: skip
    assert status == 200, body
    return str(body["event_id"])


async def put_state(
    server: ServerHandle, token: str, room_id: str, etype: str, content: Any, key: str = ""
) -> None:
    path = f"{V3}/rooms/{room_id}/state/{etype}" + (f"/{quote(key)}" if key else "")
    status, body = await server.request("PUT", path, token, json=content)
    assert status == 200, body


async def messages(
    server: ServerHandle, token: str, room_id: str, **params: str
) -> tuple[int, Any]:
    return await server.request("GET", f"{V3}/rooms/{room_id}/messages", token, params=params)


def bodies(chunk: list[dict[str, Any]]) -> list[str]:
    return [e["content"]["body"] for e in chunk if e["type"] == "m.room.message"]


async def test_paginate_backwards_and_forwards_without_gaps(server: ServerHandle) -> None:
    _, token, _ = await server.register("alice")
    room_id = await create_room(server, token)
    sent = [await send(server, token, room_id, f"m{i}") for i in range(55)]
    # Backwards from the latest (no `from`, v1.3+), 7 at a time.
    seen: list[str] = []
    params = {"dir": "b", "limit": "7"}
    pages = 0
    while True:
        status, body = await messages(server, token, room_id, **params)
        assert status == 200, body
        assert len(body["chunk"]) <= 7
        seen += [e["event_id"] for e in body["chunk"]]
        pages += 1
        if "end" not in body:
            break
        params = {"dir": "b", "limit": "7", "from": body["end"]}
    assert len(seen) == len(set(seen))
    messages_seen = [e for e in seen if e in set(sent)]
    assert messages_seen == list(reversed(sent))
    # The room's creation events come last, the create event at the very end.
    status, first = await server.request(
        "GET", f"{V3}/rooms/{room_id}/event/{quote(seen[-1], safe='')}", token
    )
    assert first["type"] == "m.room.create"
    assert pages >= 9
    # Forwards from the beginning, 10 at a time, gives the same events in order.
    forward: list[str] = []
    params = {"dir": "f", "limit": "10"}
    while True:
        status, body = await messages(server, token, room_id, **params)
        assert status == 200, body
        forward += [e["event_id"] for e in body["chunk"]]
        if "end" not in body:
            break
        params = {"dir": "f", "limit": "10", "from": body["end"]}
    assert forward == list(reversed(seen))


async def test_from_and_to_tokens(server: ServerHandle) -> None:
    _, token, _ = await server.register("alice")
    room_id = await create_room(server, token)
    for i in range(6):
        await send(server, token, room_id, f"m{i}")
    _, page1 = await messages(server, token, room_id, dir="b", limit="2")
    assert bodies(page1["chunk"]) == ["m5", "m4"]
    _, page2 = await messages(server, token, room_id, dir="b", limit="2", **{"from": page1["end"]})
    assert bodies(page2["chunk"]) == ["m3", "m2"]
    # Forwards from page 2's end returns to the newer ones, excluding the token's own event.
    _, fwd = await messages(server, token, room_id, dir="f", limit="3", **{"from": page2["end"]})
    assert bodies(fwd["chunk"]) == ["m3", "m4", "m5"]
    # `to` stops the walk before the event it names.
    _, bounded = await messages(server, token, room_id, dir="b", limit="50", to=page2["end"])
    assert bodies(bounded["chunk"]) == ["m5", "m4", "m3"]
    assert "end" not in bounded
    # A sync-style stream token (with a suffix) means "the latest as of that position".
    current = server.hs.rooms.streams.current
    await send(server, token, room_id, "later")
    _, from_stream = await messages(
        server, token, room_id, dir="b", limit="1", **{"from": f"s{current}_7_1"}
    )
    assert bodies(from_stream["chunk"]) == ["m5"]
    _, after_stream = await messages(
        server, token, room_id, dir="f", limit="5", **{"from": f"s{current}"}
    )
    assert bodies(after_stream["chunk"]) == ["later"]


async def test_errors(server: ServerHandle) -> None:
    _, token, _ = await server.register("alice")
    room_id = await create_room(server, token)
    for params, errcode in [
        ({"dir": "x"}, "M_INVALID_PARAM"),
        ({"dir": "b", "from": "garbage"}, "M_INVALID_PARAM"),
        ({"dir": "b", "to": "t1"}, "M_INVALID_PARAM"),
        ({"dir": "b", "limit": "ten"}, "M_INVALID_PARAM"),
        ({"dir": "b", "limit": "-1"}, "M_INVALID_PARAM"),
        ({"dir": "b", "filter": "{not json"}, "M_BAD_JSON"),
        ({"dir": "b", "filter": '{"types": "m.room.message"}'}, "M_BAD_JSON"),
        ({}, "M_MISSING_PARAM"),
    ]:
        status, body = await messages(server, token, room_id, **params)
        assert (status, body["errcode"]) == (400, errcode), params
    # r0 defaults `dir` to backwards.
    status, body = await server.request("GET", f"{R0}/rooms/{room_id}/messages", token)
    assert (status == 200 and body["chunk"][0]["type"] == "m.room.history_visibility") or body
    status, body = await server.request(
        "GET", f"{V3}/rooms/{room_id}/messages", params={"dir": "b"}
    )
    assert status == 401
    status, body = await messages(server, token, "!nowhere:test.local", dir="b")
    assert status == 403


async def test_limit_is_capped_and_filter_applies(server: ServerHandle) -> None:
    alice, token, _ = await server.register("alice")
    bob, b_token, _ = await server.register("bob")
    room_id = await create_room(server, token, preset="public_chat")
    assert (await server.request("POST", f"{V3}/join/{room_id}", b_token, json={}))[0] == 200
    for i in range(4):
        await send(server, token, room_id, f"a{i}")
        await send(server, b_token, room_id, f"b{i}")
    filt = json.dumps({"senders": [bob], "types": ["m.room.*"], "not_types": ["m.room.member"]})
    _, body = await messages(server, token, room_id, dir="b", limit="3", filter=filt)
    assert bodies(body["chunk"]) == ["b3", "b2", "b1"]
    _, rest = await messages(server, token, room_id, dir="b", filter=filt, **{"from": body["end"]})
    assert bodies(rest["chunk"]) == ["b0"]
    # The filter's own limit applies when the query has none; lazy loading adds the senders.
    filt = json.dumps({"limit": 2, "lazy_load_members": True, "types": ["m.room.message"]})
    _, body = await messages(server, token, room_id, dir="b", filter=filt)
    assert bodies(body["chunk"]) == ["b3", "a3"]
    assert {e["state_key"] for e in body["state"]} == {alice, bob}
    _, body = await messages(server, token, room_id, dir="b", limit="100000")
    assert len(body["chunk"]) > 8 and "end" not in body


async def test_context(server: ServerHandle) -> None:
    _, token, _ = await server.register("alice")
    room_id = await create_room(server, token, name="Ctx")
    ids = [await send(server, token, room_id, f"m{i}") for i in range(9)]
    status, body = await server.request(
        "GET", f"{V3}/rooms/{room_id}/context/{quote(ids[4], safe='')}", token,
        params={"limit": "4"},
    )  # fmt: skip
    assert status == 200, body
    assert body["event"]["event_id"] == ids[4]
    assert [e["event_id"] for e in body["events_before"]] == [ids[3], ids[2]]
    assert [e["event_id"] for e in body["events_after"]] == [ids[5], ids[6]]
    assert any(e["type"] == "m.room.name" for e in body["state"])
    _, older = await messages(server, token, room_id, dir="b", limit="2", **{"from": body["start"]})
    assert [e["event_id"] for e in older["chunk"]] == [ids[1], ids[0]]
    _, newer = await messages(server, token, room_id, dir="f", limit="5", **{"from": body["end"]})
    assert [e["event_id"] for e in newer["chunk"]] == [ids[7], ids[8]]
    status, body = await server.request(
        "GET", f"{V3}/rooms/{room_id}/context/{quote('$missing', safe='')}", token
    )
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


# History visibility matrix -----------------------------------------------------------------

VISIBILITIES = ["world_readable", "shared", "invited", "joined"]
ROLES = ["member", "left", "invited", "knocking", "never"]


def expected(visibility: str, role: str) -> tuple[bool, bool]:
    """(sees the message sent before they joined/invited/knocked, sees the one sent after)."""
    if visibility == "world_readable":
        return True, True
    if role == "member":
        # Joined after "before" was sent and is joined now.
        return visibility == "shared", True
    if role == "left":
        # Joined after "before" was sent, then left before "after" was sent.
        return visibility == "shared", False
    if role == "invited":
        return False, visibility == "invited"
    return False, False


@pytest.mark.parametrize("visibility", VISIBILITIES)
async def test_history_visibility_matrix(server: ServerHandle, visibility: str) -> None:
    _, a_token, _ = await server.register("alice")
    room_id = await create_room(server, a_token, room_version="10", preset="private_chat")
    await put_state(server, a_token, room_id, "m.room.join_rules", {"join_rule": "knock"})
    await put_state(
        server, a_token, room_id, "m.room.history_visibility", {"history_visibility": visibility}
    )
    users: dict[str, tuple[str, str]] = {}
    for role in ROLES:
        users[role] = (await server.register(role))[:2]
    before = await send(server, a_token, room_id, "before")
    # member and left: invited and joined; left then leaves after "during".
    for role in ("member", "left", "invited"):
        status, _ = await server.request(
            "POST", f"{V3}/rooms/{room_id}/invite", a_token, json={"user_id": users[role][0]}
        )
        assert status == 200
    for role in ("member", "left"):
        assert (await server.request("POST", f"{V3}/join/{room_id}", users[role][1], json={}))[
            0
        ] == 200
    k_user, k_token = users["knocking"]
    await put_state(server, k_token, room_id, "m.room.member", {"membership": "knock"}, k_user)
    assert (await server.request("POST", f"{V3}/rooms/{room_id}/leave", users["left"][1], json={}))[
        0
    ] == 200
    after = await send(server, a_token, room_id, "after")

    for role in ROLES:
        token = users[role][1]
        sees_before, sees_after = expected(visibility, role)
        # /event
        for event_id, should in ((before, sees_before), (after, sees_after)):
            status, _ = await server.request(
                "GET", f"{V3}/rooms/{room_id}/event/{quote(event_id, safe='')}", token
            )
            assert (status == 200) == should, (visibility, role, event_id, status)
            # /context
            status, body = await server.request(
                "GET", f"{V3}/rooms/{room_id}/context/{quote(event_id, safe='')}", token
            )
            assert (status == 200) == should, (visibility, role, "context", status)
            if status != 200:
                assert body["errcode"] == "M_NOT_FOUND"
        # /messages
        status, body = await messages(server, token, room_id, dir="b", limit="100")
        if role in ("knocking", "never") and visibility != "world_readable":
            assert status == 403, (visibility, role)
            continue
        assert status == 200, (visibility, role, body)
        got = set(bodies(body["chunk"]))
        assert ("before" in got) == sees_before, (visibility, role, got)
        assert ("after" in got) == sees_after, (visibility, role, got)
        if role == "invited" and visibility == "joined":
            # An invitee sees nothing of a "joined" room but their own invite.
            assert all(
                e["type"] == "m.room.member" and e["state_key"] == users[role][0]
                for e in body["chunk"]
            )
