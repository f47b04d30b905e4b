"""/sync over the client-server API: response shape (validated against the spec's schema),
initial and incremental syncs, state at the start of the timeline, limited timelines and
prev_batch, long-polling, tokens."""

from __future__ import annotations

import asyncio
import json
import time
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

ServerHandle = Any

V3 = "/_matrix/client/v3"
# The matrix-spec copy lives in shared/ beside the repository (as CI lays it out).
BUNDLE = Path(__file__).resolve().parents[3] / "shared/matrix-spec/client-server.bundled.json"


@cache
def sync_validator() -> Any:
    """The spec's schema of a /sync response (checked once, then reused)."""
    if not BUNDLE.is_file():
        raise AssertionError(f"matrix-spec copy not found at {BUNDLE}")
    spec = json.loads(BUNDLE.read_text())
    op = spec["paths"]["/_matrix/client/v3/sync"]["get"]
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


async def do_sync(
    server: ServerHandle, token: str, since: str | None = None, **params: str
) -> dict[str, Any]:
    query = dict(params)
    if since is not None:
        query["since"] = since
    status, body = await server.request("GET", f"{V3}/sync", token, params=query)
    assert status == 200, body
    sync_validator().validate(body)
    return dict(body)


async def create_room(server: ServerHandle, token: str, **body: object) -> str:
    status, resp = await server.request("POST", f"{V3}/createRoom", token, json=body)
    assert status == 200, resp
    return str(resp["room_id"])


async def send(server: ServerHandle, token: str, room_id: str, text: str) -> str:
    status, body = await server.request(
        "PUT", f"{V3}/rooms/{room_id}/send/m.room.message/{text}-{time.monotonic_ns()}", token,
        json={"msgtype": "m.text", "body": text},
    )  # fmt: skip
    assert status == 200, body
    return str(body["event_id"])


async def put_state(
    server: ServerHandle, token: str, room_id: str, event_type: str, content: dict[str, Any],
    state_key: str = "",
) -> str:  # fmt: skip
    path = f"{V3}/rooms/{room_id}/state/{event_type}" + (f"/{state_key}" if state_key else "")
    status, body = await server.request("PUT", path, token, json=content)
    assert status == 200, body
    return str(body["event_id"])


async def join(server: ServerHandle, token: str, room_id: str) -> None:
    status, body = await server.request("POST", f"{V3}/rooms/{room_id}/join", token, json={})
    assert status == 200, body


def bodies(room: dict[str, Any]) -> list[str]:
    return [
        e["content"]["body"] for e in room["timeline"]["events"] if e["type"] == "m.room.message"
    ]


async def test_initial_sync_shape(server: ServerHandle) -> None:
    alice, token, _ = await server.register("alice")
    room_id = await create_room(server, token, name="Room", preset="public_chat")
    await send(server, token, room_id, "hello")
    body = await do_sync(server, token)
    assert body["next_batch"]
    for key in ("join", "invite", "leave", "knock"):
        assert key in body["rooms"]
    room = body["rooms"]["join"][room_id]
    assert bodies(room) == ["hello"]
    assert room["timeline"]["prev_batch"].startswith("t")
    types = {(e["type"], e["state_key"]) for e in room["state"]["events"]}
    timeline_ids = {e["event_id"] for e in room["timeline"]["events"]}
    assert not timeline_ids & {e["event_id"] for e in room["state"]["events"]}
    # State plus timeline together describe the room: create, name, own membership.
    all_types = types | {
        (e["type"], e.get("state_key")) for e in room["timeline"]["events"] if "state_key" in e
    }
    assert ("m.room.create", "") in all_types and ("m.room.member", alice) in all_types
    assert ("m.room.name", "") in all_types
    assert room["summary"]["m.joined_member_count"] == 1
    assert room["summary"]["m.heroes"] == []
    assert room["unread_notifications"] == {"notification_count": 0, "highlight_count": 0}
    assert body["to_device"] == {"events": []}
    assert body["device_lists"] == {"changed": [], "left": []}
    # r0 alias works too.
    status, r0 = await server.request("GET", "/_matrix/client/r0/sync", token)
    assert status == 200 and room_id in r0["rooms"]["join"]


async def test_incremental_sync_sees_new_events_once(server: ServerHandle) -> None:
    _, token, _ = await server.register("alice")
    room_id = await create_room(server, token)
    first = await do_sync(server, token)
    again = await do_sync(server, token, first["next_batch"])
    assert again["rooms"]["join"] == {}
    await send(server, token, room_id, "one")
    await send(server, token, room_id, "two")
    second = await do_sync(server, token, first["next_batch"])
    room = second["rooms"]["join"][room_id]
    assert bodies(room) == ["one", "two"]
    assert room["timeline"]["limited"] is False
    assert room["state"]["events"] == []
    third = await do_sync(server, token, second["next_batch"])
    assert third["rooms"]["join"] == {}


async def test_own_events_carry_transaction_id(server: ServerHandle) -> None:
    _, token, _ = await server.register("alice")
    room_id = await create_room(server, token)
    status, resp = await server.request(
        "PUT", f"{V3}/rooms/{room_id}/send/m.room.message/my-txn", token,
        json={"msgtype": "m.text", "body": "x"},
    )  # fmt: skip
    assert status == 200
    body = await do_sync(server, token)
    events = body["rooms"]["join"][room_id]["timeline"]["events"]
    mine = next(e for e in events if e["event_id"] == resp["event_id"])
    assert mine["unsigned"]["transaction_id"] == "my-txn"


async def test_limited_timeline_and_prev_batch(server: ServerHandle) -> None:
    _, token, _ = await server.register("alice")
    room_id = await create_room(server, token)
    first = await do_sync(server, token)
    for i in range(15):
        await send(server, token, room_id, f"m{i}")
    body = await do_sync(server, token, first["next_batch"])
    room = body["rooms"]["join"][room_id]
    assert room["timeline"]["limited"] is True
    assert bodies(room) == [f"m{i}" for i in range(5, 15)]
    # prev_batch paginates backwards from just before the first timeline event.
    status, page = await server.request(
        "GET", f"{V3}/rooms/{room_id}/messages", token,
        params={"dir": "b", "from": room["timeline"]["prev_batch"], "limit": "3"},
    )  # fmt: skip
    assert status == 200, page
    assert [e["content"]["body"] for e in page["chunk"]] == ["m4", "m3", "m2"]
    # A filter's timeline limit overrides the default.
    small = await do_sync(server, token, filter=json.dumps({"room": {"timeline": {"limit": 2}}}))
    assert bodies(small["rooms"]["join"][room_id]) == ["m13", "m14"]


async def test_state_is_at_start_of_timeline(server: ServerHandle) -> None:
    _, token, _ = await server.register("alice")
    room_id = await create_room(server, token, name="Old name")
    for i in range(3):
        await send(server, token, room_id, f"a{i}")
    await put_state(server, token, room_id, "m.room.name", {"name": "New name"})
    await send(server, token, room_id, "after")
    body = await do_sync(server, token, filter=json.dumps({"room": {"timeline": {"limit": 3}}}))
    room = body["rooms"]["join"][room_id]
    names = [e for e in room["state"]["events"] if e["type"] == "m.room.name"]
    # The rename is inside the timeline: the state section reports the name before it.
    assert [e["content"]["name"] for e in names] == ["Old name"]
    renamed = [e for e in room["timeline"]["events"] if e["type"] == "m.room.name"]
    assert renamed[0]["content"]["name"] == "New name"
    assert renamed[0]["unsigned"]["prev_content"] == {"name": "Old name"}


async def test_limited_incremental_sync_reports_state_in_the_gap(server: ServerHandle) -> None:
    _, token, _ = await server.register("alice")
    room_id = await create_room(server, token, name="Old name")
    first = await do_sync(server, token)
    await put_state(server, token, room_id, "m.room.topic", {"topic": "gap topic"})
    for i in range(12):
        await send(server, token, room_id, f"m{i}")
    body = await do_sync(server, token, first["next_batch"])
    room = body["rooms"]["join"][room_id]
    assert room["timeline"]["limited"] is True
    state = {(e["type"], e["state_key"]): e for e in room["state"]["events"]}
    assert state[("m.room.topic", "")]["content"]["topic"] == "gap topic"
    assert ("m.room.create", "") not in state  # unchanged state is not repeated


async def test_full_state(server: ServerHandle) -> None:
    _, token, _ = await server.register("alice")
    room_id = await create_room(server, token, name="N")
    first = await do_sync(server, token)
    body = await do_sync(server, token, first["next_batch"], full_state="true")
    room = body["rooms"]["join"][room_id]
    assert {e["type"] for e in room["state"]["events"]} >= {"m.room.create", "m.room.name"}


async def test_long_poll_wakes_on_new_event(server: ServerHandle) -> None:
    _, token, _ = await server.register("alice")
    room_id = await create_room(server, token)
    first = await do_sync(server, token)
    poll = asyncio.create_task(do_sync(server, token, first["next_batch"], timeout="20000"))
    await asyncio.sleep(0.2)
    assert not poll.done()
    await send(server, token, room_id, "wake")
    body = await asyncio.wait_for(poll, 5)
    assert bodies(body["rooms"]["join"][room_id]) == ["wake"]


async def test_long_poll_times_out_empty(server: ServerHandle) -> None:
    _, token, _ = await server.register("alice")
    await create_room(server, token)
    first = await do_sync(server, token)
    body = await do_sync(server, token, first["next_batch"], timeout="300")
    assert body["rooms"]["join"] == {}
    assert body["next_batch"]


async def test_long_poll_ignores_other_users_rooms(server: ServerHandle) -> None:
    _, token, _ = await server.register("alice")
    _, bob_token, _ = await server.register("bob")
    await create_room(server, token)
    bob_room = await create_room(server, bob_token)
    first = await do_sync(server, token)
    poll = asyncio.create_task(do_sync(server, token, first["next_batch"], timeout="500"))
    await asyncio.sleep(0.1)
    await send(server, bob_token, bob_room, "not for alice")
    body = await poll
    assert body["rooms"]["join"] == {}


async def test_bad_tokens_and_params(server: ServerHandle) -> None:
    _, token, _ = await server.register("alice")
    for params in (
        {"since": "nonsense"},
        {"since": "s1_x"},
        {"timeout": "soon"},
        {"full_state": "maybe"},
        {"set_presence": "dancing"},
        {"filter": "{not json"},
    ):
        status, body = await server.request("GET", f"{V3}/sync", token, params=params)
        assert status == 400, (params, body)
        assert body["errcode"] in ("M_INVALID_PARAM", "M_BAD_JSON"), body
    status, body = await server.request("GET", f"{V3}/sync", token, params={"filter": "999"})
    assert status == 404 and body["errcode"] == "M_NOT_FOUND"
    status, _ = await server.request("GET", f"{V3}/sync", token, params={"set_presence": "online"})
    assert status == 200
    status, body = await server.request("GET", f"{V3}/sync")
    assert status == 401


async def test_use_state_after(server: ServerHandle) -> None:
    _, token, _ = await server.register("alice")
    room_id = await create_room(server, token, name="Old name")
    first = await do_sync(server, token)
    await put_state(server, token, room_id, "m.room.name", {"name": "New name"})
    body = await do_sync(server, token, first["next_batch"], use_state_after="true")
    room = body["rooms"]["join"][room_id]
    assert "state" not in room
    names = [e["content"]["name"] for e in room["state_after"]["events"]]
    assert names == ["New name"]  # the state at the END of the timeline
