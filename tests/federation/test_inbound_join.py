"""Our user joins a room hosted elsewhere: storing the send_join answer (``process_join_response``).

Spec: server-server API "Joining Rooms" (the ``state`` and ``auth_chain`` of the send_join
response are checked like any received PDU) and "Checks performed on receipt of a PDU".
"""

from __future__ import annotations

import copy
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from transom.core.events import Event
from transom.core.pdu import build_event
from transom.core.room_versions import get_room_version

from .fake_remote import FakeRemoteServer


@pytest.fixture
async def remote(tmp_path: Path) -> AsyncIterator[FakeRemoteServer]:
    fake = await FakeRemoteServer().start(tmp_path / "fake")
    yield fake
    await fake.stop()


@pytest.mark.parametrize("version", ["10", "12"])
async def test_join_response_is_stored_and_the_room_works(
    make_fed_server: Any, remote: FakeRemoteServer, version: str
) -> None:
    rv = get_room_version(version)
    server = await make_fed_server()
    hs = server.hs
    alice, token, _ = await server.register("alice")
    owner = remote.user("owner")
    v12 = rv.room_id_is_create_hash
    create = remote.make_event(
        rv, None if v12 else "!room:" + remote.server_name, owner, "m.room.create",
        {"room_version": version} if v12 else {"room_version": version, "creator": owner}, "",
        prev_events=[], auth_events=[], depth=1,
    )  # fmt: skip
    room_id = create.room_id
    cited = [] if v12 else [create]
    join_owner = remote.make_event(
        rv, room_id, owner, "m.room.member", {"membership": "join"}, owner,
        prev_events=[create], auth_events=cited,
    )  # fmt: skip
    power = remote.make_event(
        rv, room_id, owner, "m.room.power_levels", {"users": {} if v12 else {owner: 100}}, "",
        prev_events=[join_owner], auth_events=[*cited, join_owner],
    )  # fmt: skip
    rules = remote.make_event(
        rv, room_id, owner, "m.room.join_rules", {"join_rule": "public"}, "",
        prev_events=[power], auth_events=[*cited, join_owner, power],
    )  # fmt: skip
    forged = copy.deepcopy(
        remote.make_event(
            rv, room_id, owner, "m.room.topic", {"topic": "forged"}, "",
            prev_events=[rules], auth_events=[*cited, join_owner, power],
        ).pdu
    )  # fmt: skip
    forged["signatures"][remote.server_name][remote.key_id] = "A" * 86
    join = build_event(
        room_version=rv, room_id=room_id, sender=alice, event_type="m.room.member",
        content={"membership": "join"}, state_key=alice, prev_events=[rules],
        auth_events=[*cited, power, rules], depth=rules.depth + 1,
        origin_server_ts=int(time.time() * 1000), origin=server.server_name,
        signing_key=hs.config.signing_key, event_id_v1=None,
    )  # fmt: skip
    state = [create.pdu, join_owner.pdu, power.pdu, rules.pdu, forged]
    await hs.federation_events.process_join_response(
        remote.server_name, rv, join, state, [create.pdu, join_owner.pdu, power.pdu]
    )
    assert (await hs.rooms.rooms.get_room_version(room_id)) == rv
    current = await hs.rooms.state.get_current_state_ids(room_id)
    assert current[("m.room.member", alice)] == join.event_id
    assert ("m.room.topic", "") not in current  # the forged event was dropped
    assert await hs.rooms.events.get_forward_extremities(room_id) == [join.event_id]
    local = await hs.rooms.state.get_local_membership(alice, room_id)
    assert local is not None and local.membership == "join"
    # The room now takes messages from its other servers, visible to our user.
    msg = await remote.make_event_from_state(
        hs, room_id, owner, "m.room.message", {"msgtype": "m.text", "body": "welcome"}
    )
    status, body = await remote.send_transaction(server, [msg])
    assert body["pdus"] == {msg.event_id: {}}, body
    path = f"/_matrix/client/v3/rooms/{quote(room_id)}/event/{quote(msg.event_id, safe='')}"
    status, event = await server.request("GET", path, token)
    assert status == 200 and event["content"]["body"] == "welcome"


async def test_join_failing_auth_against_the_returned_state_is_refused(
    make_fed_server: Any, remote: FakeRemoteServer
) -> None:
    rv = get_room_version("10")
    server = await make_fed_server()
    alice, _, _ = await server.register("alice")
    owner = remote.user("owner")
    room_id = "!closed:" + remote.server_name
    create = remote.make_event(
        rv, room_id, owner, "m.room.create", {"creator": owner, "room_version": "10"}, "",
        prev_events=[], auth_events=[], depth=1,
    )  # fmt: skip
    join_owner = remote.make_event(
        rv, room_id, owner, "m.room.member", {"membership": "join"}, owner,
        prev_events=[create], auth_events=[create],
    )  # fmt: skip
    join: Event = build_event(
        room_version=rv, room_id=room_id, sender=alice, event_type="m.room.member",
        content={"membership": "join"}, state_key=alice, prev_events=[join_owner],
        auth_events=[create], depth=3, origin_server_ts=int(time.time() * 1000),
        origin=server.server_name, signing_key=server.hs.config.signing_key,
    )  # fmt: skip
    with pytest.raises(Exception, match="not allowed"):
        # No join rules: the room is invite-only by default.
        await server.hs.federation_events.process_join_response(
            remote.server_name, rv, join, [create.pdu, join_owner.pdu], [create.pdu]
        )
    assert await server.hs.rooms.rooms.get_room_version(room_id) is None
