"""Transom as the knocker's server, the room held by a scripted peer (``FakeRemoteServer``).

Server-server API "Knocking upon a room" (the template checks; ``knock_room_state`` entries
are checked for signatures and room before clients see them, stripped to four keys) and
"Retrieving event authorisation information" (``/event_auth``). Beyond the spec: a kick of our
user's pending knock is accepted only when validly signed and authorised by its auth chain;
forged ones are ignored.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from transom.core.events import Event, JsonDict
from transom.core.pdu import parse_pdu
from transom.core.room_versions import KNOWN_ROOM_VERSIONS

from .fake_remote import FakeRemoteServer
from .test_knock_two_servers import knock, knock_rules
from .test_two_servers import create_room, eventually

RV = KNOWN_ROOM_VERSIONS["10"]


@dataclass
class RemoteRoom:
    remote: FakeRemoteServer
    room_id: str
    owner: str
    weak: str
    create: Event
    power_levels: Event
    owner_join: Event
    weak_join: Event
    latest: Event


@pytest.fixture
async def remote(tmp_path: Path) -> AsyncIterator[FakeRemoteServer]:
    fake = await FakeRemoteServer().start(tmp_path / "fake")
    yield fake
    await fake.stop()


def build_room(remote: FakeRemoteServer) -> RemoteRoom:
    """A knock room on the peer: the owner (power 100) and a joined member with power 0."""
    room_id = f"!porch:{remote.server_name}"
    owner, weak = remote.user("owner"), remote.user("weak")

    def make(sender: str, kind: str, content: JsonDict, key: str, prev: Event | None,
             auth: list[Event]) -> Event:  # fmt: skip
        return remote.make_event(
            RV, room_id, sender, kind, content, key, prev_events=[prev] if prev else [],
            auth_events=auth,
        )  # fmt: skip

    create = make(owner, "m.room.create", {"creator": owner, "room_version": "10"}, "", None, [])
    join = make(owner, "m.room.member", {"membership": "join"}, owner, create, [create])
    levels = make(owner, "m.room.power_levels", {"users": {owner: 100}, "kick": 50, "ban": 50},
                  "", join, [create, join])  # fmt: skip
    rules = make(owner, "m.room.join_rules", {"join_rule": "knock"}, "", levels,
                 [create, join, levels])  # fmt: skip
    name = make(owner, "m.room.name", {"name": "Porch"}, "", rules, [create, join, levels])
    invite = make(owner, "m.room.member", {"membership": "invite"}, weak, name,
                  [create, join, levels, rules])  # fmt: skip
    weak_join = make(weak, "m.room.member", {"membership": "join"}, weak, invite,
                     [create, levels, rules, invite])  # fmt: skip
    return RemoteRoom(remote, room_id, owner, weak, create, levels, join, weak_join, weak_join)


def serve_room(
    room: RemoteRoom, extra_state: list[JsonDict], key: str = "knock_room_state"
) -> None:
    remote = room.remote
    rules = next(e for e in remote.events.values() if e.type == "m.room.join_rules")
    name = next(e for e in remote.events.values() if e.type == "m.room.name")

    async def make_knock(request: Any) -> tuple[int, Any]:
        user = request.path.rsplit("/", 1)[1]
        assert "10" in request.query["ver"]
        template = {
            "type": "m.room.member", "room_id": room.room_id, "sender": user,
            "state_key": user, "content": {"membership": "knock"},
            "depth": room.latest.depth + 1, "prev_events": [room.latest.event_id],
            "auth_events": [room.create.event_id, room.power_levels.event_id, rules.event_id],
            "origin_server_ts": 1,
        }  # fmt: skip
        return 200, {"room_version": "10", "event": template}

    async def send_knock(request: Any) -> tuple[int, Any]:
        remote.remember(parse_pdu(request.body, RV))
        state = [room.create.pdu, rules.pdu, name.pdu, *extra_state]
        return 200, {key: state}

    async def event_auth(request: Any) -> tuple[int, Any]:
        event = remote.events[request.path.rsplit("/", 1)[1]]
        chain: dict[str, Event] = {}
        frontier = list(event.auth_event_ids)
        while frontier:
            found = remote.events[frontier.pop()]
            if found.event_id not in chain:
                chain[found.event_id] = found
                frontier.extend(found.auth_event_ids)
        return 200, {"auth_chain": [e.pdu for e in chain.values()]}

    remote.on("GET", "/make_knock/", make_knock)
    remote.on("PUT", "/send_knock/", send_knock)
    remote.on("GET", "/event_auth/", event_auth)


async def test_forged_rejections_are_ignored(
    make_fed_server: Any, remote: FakeRemoteServer
) -> None:
    server = await make_fed_server()
    bob, token, _ = await server.register("bob")
    carol, _, _ = await server.register("carol")
    room = build_room(remote)
    # Returned state the knocker's server must drop: a bad signature, another room's event.
    tampered = copy.deepcopy(room.power_levels.pdu)
    tampered["signatures"][remote.server_name] = {remote.key_id: "A" * 86}
    elsewhere = remote.make_event(
        RV, f"!other:{remote.server_name}", room.owner, "m.room.topic", {"topic": "x"}, "",
        prev_events=[], auth_events=[],
    )  # fmt: skip
    serve_room(room, [tampered, elsewhere.pdu])

    status, answer = await knock(server, token, room.room_id, [remote.server_name], "hello")
    assert (status, answer) == (200, {"room_id": room.room_id})
    local = await server.hs.rooms.state.get_local_membership(bob, room.room_id)
    assert local is not None and (local.membership, local.outofband) == ("knock", True)
    types = [e["type"] for e in local.stripped_state or []]
    assert types == ["m.room.create", "m.room.join_rules", "m.room.name"]
    knock_event = remote.events[local.event_id]
    assert knock_event.content["reason"] == "hello"

    def kick(sender: str, target: str, member: Event, auth_from: Event) -> Event:
        return remote.make_event(
            RV, room.room_id, sender, "m.room.member", {"membership": "leave"}, target,
            prev_events=[knock_event],
            auth_events=[room.create, room.power_levels, auth_from, member],
        )  # fmt: skip

    async def send(event_pdu: JsonDict) -> Any:
        status, body = await remote.send_transaction(server, [event_pdu])
        assert status == 200, body
        return body["pdus"]

    # 1. A kick whose signature does not verify.
    forged = copy.deepcopy(kick(room.owner, bob, knock_event, room.owner_join).pdu)
    forged["signatures"][remote.server_name] = {remote.key_id: "A" * 86}
    results = await send(forged)
    assert all("ignature" in r.get("error", "") for r in results.values()), results
    # 2. A kick by a member without kick power according to its own auth events.
    results = await send(kick(room.weak, bob, knock_event, room.weak_join).pdu)
    assert all("not authorised" in r.get("error", "") for r in results.values()), results
    # 3. A leave of a local user who is not knocking.
    results = await send(kick(room.owner, carol, knock_event, room.owner_join).pdu)
    assert all(r.get("error") for r in results.values()), results
    assert await server.hs.rooms.state.get_local_membership(carol, room.room_id) is None
    local = await server.hs.rooms.state.get_local_membership(bob, room.room_id)
    assert local is not None and local.membership == "knock"

    # The genuine kick by the owner is accepted: the knocker learns of the rejection.
    genuine = kick(room.owner, bob, knock_event, room.owner_join)
    results = await send(genuine.pdu)
    assert results == {genuine.event_id: {}}

    async def left() -> bool:
        local = await server.hs.rooms.state.get_local_membership(bob, room.room_id)
        return local is not None and local.membership == "leave"

    await eventually(left, "the delivered rejection")
    stored = (await server.hs.rooms.events.get_stored([genuine.event_id]))[genuine.event_id]
    assert stored.outlier


async def test_legacy_state_key(make_fed_server: Any, remote: FakeRemoteServer) -> None:
    """``knock_state_events`` (the name before the spec's release) is read when the current
    ``knock_room_state`` is absent."""
    server = await make_fed_server()
    bob, token, _ = await server.register("bob")
    room = build_room(remote)
    serve_room(room, [], key="knock_state_events")
    status, _ = await knock(server, token, room.room_id, [remote.server_name])
    assert status == 200
    local = await server.hs.rooms.state.get_local_membership(bob, room.room_id)
    assert local is not None and local.via_server == remote.server_name
    assert [e["type"] for e in local.stripped_state or []] == [
        "m.room.create",
        "m.room.join_rules",
        "m.room.name",
    ]


async def test_wrong_template_tries_the_next_server(
    make_fed_server: Any, remote: FakeRemoteServer
) -> None:
    """knocks.yaml: a template with the wrong sender is malformed; the next server is tried."""
    a, b = await make_fed_server(), await make_fed_server()
    _, alice_token, _ = await a.register("alice")
    bob, token, _ = await b.register("bob")
    room_id = await create_room(
        a, alice_token, preset="private_chat", room_version="10", initial_state=knock_rules()
    )

    async def wrong_template(request: Any) -> tuple[int, Any]:
        event = {"type": "m.room.member", "room_id": room_id, "sender": remote.user("x"),
                 "state_key": remote.user("x"), "content": {"membership": "knock"}}  # fmt: skip
        return 200, {"room_version": "10", "event": event}

    remote.on("GET", "/make_knock/", wrong_template)
    status, answer = await knock(b, token, room_id, [remote.server_name, a.server_name])
    assert (status, answer) == (200, {"room_id": room_id})
    assert not remote.requests_to("/send_knock/")
    local = await b.hs.rooms.state.get_local_membership(bob, room_id)
    assert local is not None and local.via_server == a.server_name
