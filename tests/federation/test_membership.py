"""The resident side of the membership handshakes, driven by a fake federation peer.

Server-server API "Joining Rooms" (make_join/send_join v1 and v2), "Leaving Rooms (Rejecting
Invites)", "Inviting to a room" (v2 validation, signing, out-of-band invites).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from support.servers import q
from transom.core.events import JsonDict
from transom.core.hashing import add_content_hash, compute_event_id
from transom.core.room_versions import get_room_version
from transom.core.signing import sign_event

from .conftest import FedServer, MakeFedServer
from .fake_remote import FakeRemoteServer

V1 = "/_matrix/federation/v1"
V2 = "/_matrix/federation/v2"


@pytest.fixture
async def remote(tmp_path: Path) -> AsyncIterator[FakeRemoteServer]:
    fake = await FakeRemoteServer().start(tmp_path / "fake")
    yield fake
    await fake.stop()


async def public_room(server: FedServer, version: str = "10") -> tuple[str, str]:
    alice, token, _ = await server.register("alice")
    status, body = await server.request(
        "POST", "/_matrix/client/v3/createRoom", token,
        json={"preset": "public_chat", "room_version": version},
    )  # fmt: skip
    assert status == 200, body
    return body["room_id"], alice


def complete(remote: FakeRemoteServer, template: JsonDict, **changes: Any) -> tuple[str, JsonDict]:
    """The joining server's part: fill in the template, hash and sign it."""
    room_version = get_room_version(template["room_version"])
    pdu = dict(template["event"])
    pdu.update(origin=remote.server_name, origin_server_ts=int(time.time() * 1000))
    pdu.update(changes)
    signed = sign_event(add_content_hash(pdu), room_version, remote.server_name,
                        remote.signing_key)  # fmt: skip
    return compute_event_id(signed, room_version), signed


async def make_join(
    remote: FakeRemoteServer, server: FedServer, room_id: str, user: str
) -> tuple[int, Any]:
    return await remote.request(
        server, "GET", f"{V1}/make_join/{q(room_id)}/{q(user)}", query={"ver": ["10", "12"]}
    )


async def join_template(
    make_fed_server: MakeFedServer, remote: FakeRemoteServer
) -> tuple[FedServer, str, str, JsonDict]:
    """A server with Alice's public room and the make_join template it gives the remote's Bob:
    ``(server, room_id, bob, template)``."""
    server = await make_fed_server()
    room_id, _ = await public_room(server)
    user = remote.user("bob")
    _, template = await make_join(remote, server, room_id, user)
    return server, room_id, user, template


async def test_make_and_send_join_v2(
    make_fed_server: MakeFedServer, remote: FakeRemoteServer
) -> None:
    server = await make_fed_server()
    room_id, _ = await public_room(server)
    user = remote.user("bob")
    status, template = await make_join(remote, server, room_id, user)
    assert status == 200, template
    assert template["room_version"] == "10"
    event = template["event"]
    assert (event["type"], event["sender"], event["state_key"]) == ("m.room.member", user, user)
    assert "signatures" not in event and "hashes" not in event
    event_id, pdu = complete(remote, template)
    status, answer = await remote.request(
        server, "PUT", f"{V2}/send_join/{q(room_id)}/{q(event_id)}", pdu
    )
    assert status == 200, answer
    state_types = {(e["type"], e.get("state_key")) for e in answer["state"]}
    assert ("m.room.create", "") in state_types
    assert ("m.room.member", user) not in state_types  # the state BEFORE the join
    auth_ids = {compute_event_id(e, get_room_version("10")) for e in answer["auth_chain"]}
    create = next(e for e in answer["state"] if e["type"] == "m.room.create")
    assert compute_event_id(create, get_room_version("10")) in auth_ids
    assert answer["members_omitted"] is False
    assert server.server_name in answer["servers_in_room"]
    assert await server.hs.rooms.membership.membership_of(room_id, user) == "join"


async def test_send_join_v1_answers_the_legacy_array(
    make_fed_server: MakeFedServer, remote: FakeRemoteServer
) -> None:
    server, room_id, _, template = await join_template(make_fed_server, remote)
    event_id, pdu = complete(remote, template)
    status, answer = await remote.request(
        server, "PUT", f"{V1}/send_join/{q(room_id)}/{q(event_id)}", pdu
    )
    assert status == 200, answer
    assert isinstance(answer, list) and answer[0] == 200
    assert {"state", "auth_chain"} <= set(answer[1])


@pytest.mark.parametrize(
    ("change", "status", "errcode"),
    [
        ({"content": {"membership": "leave"}}, 400, "M_BAD_JSON"),
        ("wrong_event_id", 400, "M_BAD_JSON"),
        ("other_sender", 403, "M_FORBIDDEN"),
    ],
)
async def test_send_join_refusals(
    make_fed_server: MakeFedServer,
    remote: FakeRemoteServer,
    change: Any,
    status: int,
    errcode: str,
) -> None:
    server, room_id, user, template = await join_template(make_fed_server, remote)
    if change == "other_sender":
        other = "@mallory:elsewhere.example"
        template["event"].update(sender=other, state_key=other)
        event_id, pdu = complete(remote, template)
    elif change == "wrong_event_id":
        _, pdu = complete(remote, template)
        event_id = "$notthisone"
    else:
        event_id, pdu = complete(remote, template, **change)
    got, answer = await remote.request(
        server, "PUT", f"{V2}/send_join/{q(room_id)}/{q(event_id)}", pdu
    )
    assert (got, answer["errcode"]) == (status, errcode), answer
    assert await server.hs.rooms.membership.membership_of(room_id, user) is None


async def test_unknown_room_is_404(
    make_fed_server: MakeFedServer, remote: FakeRemoteServer
) -> None:
    server = await make_fed_server()
    status, answer = await make_join(remote, server, "!nope:elsewhere", remote.user("bob"))
    assert status == 404, answer


async def test_make_and_send_leave_v1(
    make_fed_server: MakeFedServer, remote: FakeRemoteServer
) -> None:
    server, room_id, user, template = await join_template(make_fed_server, remote)
    event_id, pdu = complete(remote, template)
    status, _ = await remote.request(server, "PUT", f"{V2}/send_join/{q(room_id)}/{q(event_id)}",
                                     pdu)  # fmt: skip
    assert status == 200
    status, template = await remote.request(
        server, "GET", f"{V1}/make_leave/{q(room_id)}/{q(user)}"
    )
    assert status == 200, template
    assert template["event"]["content"]["membership"] == "leave"
    event_id, pdu = complete(remote, template)
    status, answer = await remote.request(
        server, "PUT", f"{V1}/send_leave/{q(room_id)}/{q(event_id)}", pdu
    )
    assert (status, answer) == (200, [200, {}])
    assert await server.hs.rooms.membership.membership_of(room_id, user) == "leave"


def invite_pdu(remote: FakeRemoteServer, version: str, room_id: str, target: str) -> Any:
    room_version = get_room_version(version)
    sender = remote.user("inviter")
    create = remote.make_event(
        room_version, room_id if version != "12" else None, sender, "m.room.create",
        {"room_version": version, **({"creator": sender} if version != "12" else {})}, "",
        prev_events=[], auth_events=[],
    )  # fmt: skip
    room_id = room_id if version != "12" else "!" + create.event_id[1:]
    invite = remote.make_event(
        room_version, room_id, sender, "m.room.member", {"membership": "invite"}, target,
        prev_events=[create], auth_events=[create],
    )  # fmt: skip
    return room_id, create, invite


@pytest.mark.parametrize("version", ["10", "12"])
async def test_invite_is_signed_and_kept_out_of_band(
    make_fed_server: MakeFedServer, remote: FakeRemoteServer, version: str
) -> None:
    server = await make_fed_server()
    bob, _, _ = await server.register("bob")
    room_id, create, invite = invite_pdu(remote, version, f"!r:{remote.server_name}", bob)
    body = {"room_version": version, "event": invite.pdu, "invite_room_state": [create.pdu]}
    status, answer = await remote.request(
        server, "PUT", f"{V2}/invite/{q(room_id)}/{q(invite.event_id)}", body
    )
    assert status == 200, answer
    assert set(answer["event"]["signatures"]) == {remote.server_name, server.server_name}
    local = await server.hs.rooms.state.get_local_membership(bob, room_id)
    assert local is not None
    assert (local.membership, local.outofband, local.via_server) == (
        "invite", True, remote.server_name,
    )  # fmt: skip
    assert local.stripped_state == [
        {"type": "m.room.create", "state_key": "", "sender": create.sender,
         "content": create.content},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "errcode"),
    [
        ("unknown_version", "M_INCOMPATIBLE_ROOM_VERSION"),
        ("not_our_user", "M_INVALID_PARAM"),
        ("not_an_invite", "M_INVALID_PARAM"),
        ("v12_without_create", "M_MISSING_PARAM"),
    ],
)
async def test_invite_refusals(
    make_fed_server: MakeFedServer, remote: FakeRemoteServer, case: str, errcode: str
) -> None:
    server = await make_fed_server()
    bob, _, _ = await server.register("bob")
    version = "12" if case == "v12_without_create" else "10"
    target = "@bob:elsewhere.example" if case == "not_our_user" else bob
    room_id, create, invite = invite_pdu(remote, version, f"!r:{remote.server_name}", target)
    pdu = invite.pdu
    if case == "not_an_invite":
        pdu = remote.make_event(
            get_room_version(version), room_id, remote.user("inviter"), "m.room.member",
            {"membership": "join"}, target, prev_events=[create], auth_events=[create],
        ).pdu  # fmt: skip
    body = {
        "room_version": "99" if case == "unknown_version" else version,
        "event": pdu,
        "invite_room_state": [] if case == "v12_without_create" else [create.pdu],
    }
    event_id = compute_event_id(pdu, get_room_version(version))
    status, answer = await remote.request(
        server, "PUT", f"{V2}/invite/{q(room_id)}/{q(event_id)}", body
    )
    assert (status, answer["errcode"]) == (400, errcode), answer
    if case == "unknown_version":
        assert answer["room_version"] == "99"
    assert await server.hs.rooms.state.get_local_membership(bob, room_id) is None


async def test_restricted_make_join_answers_unable_to_authorise_when_no_condition_checkable(
    make_fed_server: MakeFedServer, remote: FakeRemoteServer
) -> None:
    """Server-server API "GET /make_join": 400 ``M_UNABLE_TO_AUTHORISE_JOIN`` when the room is
    restricted (v8+) and none of its conditions can be validated here; 403 once this server is
    in an allowed room the user has not joined."""
    server = await make_fed_server()
    _, token, _ = await server.register("alice")
    status, body = await server.request(
        "POST", "/_matrix/client/v3/createRoom", token, json={"preset": "private_chat"}
    )
    assert status == 200, body
    space_here = body["room_id"]
    elsewhere = f"!unknown:{remote.server_name}"

    async def restricted_room(allowed: list[str]) -> str:
        rules = {
            "join_rule": "restricted",
            "allow": [{"type": "m.room_membership", "room_id": r} for r in allowed],
        }
        status, body = await server.request(
            "POST", "/_matrix/client/v3/createRoom", token,
            json={"preset": "private_chat", "room_version": "10",
                  "initial_state": [{"type": "m.room.join_rules", "state_key": "",
                                     "content": rules}]},
        )  # fmt: skip
        assert status == 200, body
        return str(body["room_id"])

    bob = remote.user("bob")
    status, body = await make_join(remote, server, await restricted_room([elsewhere]), bob)
    assert (status, body.get("errcode")) == (400, "M_UNABLE_TO_AUTHORISE_JOIN"), body
    status, body = await make_join(
        remote, server, await restricted_room([elsewhere, space_here]), bob
    )
    assert (status, body.get("errcode")) == (403, "M_FORBIDDEN"), body
