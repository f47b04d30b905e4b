"""Transom as the room's server for knocks from a scripted peer (``FakeRemoteServer``).

Server-server API "Knocking upon a room" (``knocks.yaml``: make_knock with a required ``ver``;
send_knock's validation, 400, before signatures, ACL and auth, 403; ``knock_room_state`` as full
PDUs including ``m.room.create``, spec v1.16), "Server Access Control Lists"; ``rc_knocks``.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from transom.core.events import Event
from transom.core.hashing import compute_event_id
from transom.core.room_versions import KNOWN_ROOM_VERSIONS
from transom.core.signing import sign_event

from .fake_remote import FEDERATION_V1, FakeRemoteServer
from .test_knock_two_servers import act, knock_rules
from .test_two_servers import create_room, q

KNOCK = {"membership": "knock"}


@pytest.fixture
async def remote(tmp_path: Path) -> AsyncIterator[FakeRemoteServer]:
    fake = await FakeRemoteServer().start(tmp_path / "fake")
    yield fake
    await fake.stop()


async def make_knock(
    remote: FakeRemoteServer, server: Any, room_id: str, user_id: str, ver: Any = ("10", "12")
) -> tuple[int, Any]:
    query = {"ver": list(ver)} if ver is not None else None
    return await remote.request(
        server, "GET", f"{FEDERATION_V1}/make_knock/{q(room_id)}/{q(user_id)}", query=query
    )


async def send_knock(
    remote: FakeRemoteServer, server: Any, room_id: str, event_id: str, pdu: Any
) -> tuple[int, Any]:
    path = f"{FEDERATION_V1}/send_knock/{q(room_id)}/{q(event_id)}"
    return await remote.request(server, "PUT", path, pdu)


async def knock_event(
    remote: FakeRemoteServer, server: Any, room_id: str, sender: str, **overrides: Any
) -> Event:
    """A knock built and signed by the peer on the room's current state."""
    return await remote.make_event_from_state(
        server.hs, room_id, sender, overrides.get("event_type", "m.room.member"),
        overrides.get("content", KNOCK), overrides.get("state_key", sender),
    )  # fmt: skip


async def test_knock_through_the_handshake(make_fed_server: Any, remote: FakeRemoteServer) -> None:
    server = await make_fed_server()
    _, token, _ = await server.register("alice")
    room_id = await create_room(
        server, token, preset="private_chat", room_version="12", initial_state=knock_rules(),
        name="Porch",
    )  # fmt: skip
    eve = remote.user("eve")
    status, answer = await make_knock(remote, server, room_id, eve)
    assert status == 200, answer
    assert answer["room_version"] == "12"
    template = answer["event"]
    assert (template["type"], template["sender"], template["state_key"]) == (
        "m.room.member", eve, eve,
    )  # fmt: skip
    assert template["content"] == KNOCK and template["room_id"] == room_id
    assert "signatures" not in template and "hashes" not in template

    event = await knock_event(remote, server, room_id, eve)
    status, answer = await send_knock(remote, server, room_id, event.event_id, event.pdu)
    assert status == 200, answer
    state = answer["knock_room_state"]
    # Full PDUs of the room (v1.16), m.room.create first; no stripped entries.
    assert state[0]["type"] == "m.room.create" and "signatures" in state[0]
    assert {"m.room.name", "m.room.join_rules"} <= {e["type"] for e in state}
    assert all("auth_events" in e and "hashes" in e for e in state)
    assert await server.hs.rooms.membership.membership_of(room_id, eve) == "knock"


async def test_malformed_send_knock_is_400_before_auth(
    make_fed_server: Any, remote: FakeRemoteServer
) -> None:
    server = await make_fed_server()
    _, token, _ = await server.register("alice")
    # A public room: a well-formed knock would fail the auth rules (403), not these checks.
    room_id = await create_room(server, token, preset="public_chat", room_version="10")
    other_room = await create_room(server, token, preset="public_chat", room_version="10")
    eve, mallory = remote.user("eve"), remote.user("mallory")
    not_member = await knock_event(remote, server, room_id, eve, event_type="m.room.topic")
    no_state_key = remote.make_event(
        (await server.hs.rooms.rooms.get_room_version(room_id)), room_id, eve, "m.room.member",
        KNOCK, None, prev_events=[not_member], auth_events=[],
    )  # fmt: skip
    join = await knock_event(remote, server, room_id, eve, content={"membership": "join"})
    other_target = await knock_event(remote, server, room_id, eve, state_key=mallory)
    foreign = "@someone:elsewhere.example"
    foreign_sender = await knock_event(remote, server, room_id, foreign)
    other_room_knock = await knock_event(remote, server, other_room, eve)
    good = await knock_event(remote, server, room_id, eve)
    cases = [
        ("not m.room.member", room_id, not_member.event_id, not_member.pdu),
        ("no state_key", room_id, no_state_key.event_id, no_state_key.pdu),
        ("membership join", room_id, join.event_id, join.pdu),
        ("state_key is not the sender", room_id, other_target.event_id, other_target.pdu),
        ("sender not on the origin", room_id, foreign_sender.event_id, foreign_sender.pdu),
        ("room_id not the path's", room_id, other_room_knock.event_id, other_room_knock.pdu),
        ("event ID not the path's", room_id, "$" + "A" * 43, good.pdu),
    ]
    for what, path_room, event_id, pdu in cases:
        status, answer = await send_knock(remote, server, path_room, event_id, pdu)
        assert status == 400, (what, answer)
        assert answer["errcode"] in ("M_INVALID_PARAM", "M_BAD_JSON"), (what, answer)
    for user in (eve, mallory, foreign):
        assert await server.hs.rooms.membership.membership_of(room_id, user) is None
    # The well-formed knock itself reaches the auth rules: the public room refuses it.
    status, answer = await send_knock(remote, server, room_id, good.event_id, good.pdu)
    assert (status, answer["errcode"]) == (403, "M_FORBIDDEN"), answer


async def test_send_knock_signatures_acl_and_forwarding(
    make_fed_server: Any, remote: FakeRemoteServer
) -> None:
    server = await make_fed_server()
    _, token, _ = await server.register("alice")
    room_id = await create_room(
        server, token, preset="private_chat", room_version="10", initial_state=knock_rules()
    )
    eve = remote.user("eve")
    event = await knock_event(remote, server, room_id, eve)
    forged = copy.deepcopy(event.pdu)
    forged["signatures"][remote.server_name] = {remote.key_id: "A" * 86}
    status, answer = await send_knock(remote, server, room_id, event.event_id, forged)
    assert (status, answer["errcode"]) == (403, "M_FORBIDDEN"), answer
    assert compute_event_id(forged, event.room_version) == event.event_id

    # ACLs match names without the port: this denies the peer (and the host's own name).
    status, _ = await server.request(
        "PUT", f"/_matrix/client/v3/rooms/{q(room_id)}/state/m.room.server_acl", token,
        json={"allow": ["*"], "deny": ["127.0.0.1"], "allow_ip_literals": True},
    )  # fmt: skip
    assert status == 200
    status, answer = await send_knock(remote, server, room_id, event.event_id, event.pdu)
    assert (status, answer["errcode"]) == (403, "M_FORBIDDEN"), answer
    status, answer = await make_knock(remote, server, room_id, eve)
    assert (status, answer["errcode"]) == (403, "M_FORBIDDEN"), answer
    assert await server.hs.rooms.membership.membership_of(room_id, eve) is None


async def test_make_knock_refusals(make_fed_server: Any, remote: FakeRemoteServer) -> None:
    server = await make_fed_server()
    alice, token, _ = await server.register("alice")
    room_id = await create_room(
        server, token, preset="private_chat", room_version="10", initial_state=knock_rules()
    )
    public = await create_room(server, token, preset="public_chat", room_version="10")
    eve, banned = remote.user("eve"), remote.user("banned")
    await act(server, token, room_id, "ban", user_id=banned)

    status, answer = await make_knock(remote, server, room_id, eve, ver=None)
    assert (status, answer["errcode"]) == (400, "M_MISSING_PARAM"), answer
    status, answer = await make_knock(remote, server, room_id, eve, ver=["6", "7"])
    assert (status, answer["errcode"]) == (400, "M_INCOMPATIBLE_ROOM_VERSION"), answer
    assert answer["room_version"] == "10"
    for target_room, user, why in [
        (room_id, alice, "user not on the origin"),
        (public, eve, "join rule public"),
        (room_id, banned, "banned"),
    ]:
        status, answer = await make_knock(remote, server, target_room, user)
        assert (status, answer["errcode"]) == (403, "M_FORBIDDEN"), (why, answer)
    status, answer = await make_knock(remote, server, f"!nowhere:{server.server_name}", eve)
    assert (status, answer["errcode"]) == (404, "M_NOT_FOUND"), answer
    # A room version without knocking (v6) cannot be knocked on.
    v6 = await create_room(server, token, preset="private_chat", room_version="6")
    status, answer = await make_knock(remote, server, v6, eve, ver=["6"])
    assert (status, answer["errcode"]) == (403, "M_FORBIDDEN"), answer

    # Invited users are refused too (the peer countersigns the invite).
    async def countersign(request: Any) -> tuple[int, Any]:
        version = KNOWN_ROOM_VERSIONS[request.body["room_version"]]
        pdu = sign_event(request.body["event"], version, remote.server_name, remote.signing_key)
        return 200, {"event": pdu}

    remote.on("PUT", "/_matrix/federation/v2/invite/", countersign)
    await act(server, token, room_id, "invite", user_id=remote.user("guest"))
    status, answer = await make_knock(remote, server, room_id, remote.user("guest"))
    assert (status, answer["errcode"]) == (403, "M_FORBIDDEN"), answer


@pytest.mark.parametrize("limit", ["per_server", "per_user"])
async def test_remote_knock_rate_limits(
    make_fed_server: Any, remote: FakeRemoteServer, limit: str
) -> None:
    generous = {"per_second": 1000, "burst_count": 1000}
    rc = {"per_user": generous, "per_room": generous, "per_server": generous}
    rc[limit] = {"per_second": 0.001, "burst_count": 1}
    server = await make_fed_server(rc_knocks=rc)
    _, token, _ = await server.register("alice")
    rooms = [
        await create_room(
            server, token, preset="private_chat", room_version="10", initial_state=knock_rules()
        )
        for _ in range(2)
    ]
    eve = remote.user("eve")
    second_user = eve if limit == "per_user" else remote.user("zed")
    event = await knock_event(remote, server, rooms[0], eve)
    status, answer = await send_knock(remote, server, rooms[0], event.event_id, event.pdu)
    assert status == 200, answer
    # The second knock (another room; per_user: the same user, per_server: another user).
    status, answer = await make_knock(remote, server, rooms[1], second_user)
    assert (status, answer["errcode"]) == (429, "M_LIMIT_EXCEEDED"), answer
    assert answer["retry_after_ms"] > 0
    event = await knock_event(remote, server, rooms[1], second_user)
    status, answer = await send_knock(remote, server, rooms[1], event.event_id, event.pdu)
    assert (status, answer["errcode"]) == (429, "M_LIMIT_EXCEEDED"), answer
    assert await server.hs.rooms.membership.membership_of(rooms[1], second_user) is None
