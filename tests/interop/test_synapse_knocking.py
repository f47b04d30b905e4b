"""Knocking between Transom and Synapse (from PyPI) over TLS on loopback, in both directions.

Server-Server API "Knocking upon a room" (``make_knock``/``send_knock``, room versions 7+),
"Inviting to a room", "Leaving Rooms (Rejecting Invites)" (a knock is rescinded by leaving);
Client-Server API "Knocking on rooms" (``POST /knock/{roomIdOrAlias}`` with ``via``), the
``rooms.knock`` section of ``/sync``, and the room state both servers show afterwards.
Auth rules ("If membership is knock", rule 4.7 in v7-v11, its v12 counterpart): the ``knock``
membership needs join rule ``knock`` (v7+) or ``knock_restricted`` (v10+) and is refused to a
banned, invited or joined user.

"Host" is the server that creates the room; the knocker is a user of the other server.
Facts about Synapse 1.163 that shape the assertions (synapse-peer.md): as the knocker's server it
never rescinds a knock over federation (it writes a local leave only), and as the room's server
it does not tell a remote knocker that the knock was rejected.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import pytest_asyncio

from support.servers import q

from .conftest import (
    Peer,
    SynapseClient,
    TransomPeer,
    eventually,
    transom_peer,
)
from .helpers import (
    DIRECTIONS,
    create_room,
    host_and_guest,
    join,
    knock,
    membership,
    room_action,
    send_text,
    sync_section,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def knock_room(
    host: Peer, token: str, room_version: str, join_rule: str = "knock", **extra: Any
) -> str:
    return await create_room(
        host, token, preset="private_chat", room_version=room_version,
        initial_state=[{"type": "m.room.join_rules", "state_key": "", "content": {
            "join_rule": join_rule}}],
        **extra,
    )  # fmt: skip


async def knocked(
    peers: tuple[SynapseClient, TransomPeer], direction: str, room_version: str
) -> tuple[Peer, Peer, str, str, str, str]:
    """Alice of the host makes a knock room, Bob of the guest knocks through the host (200):
    ``(host, guest, alice_token, bob, bob_token, room_id)``."""
    host, guest = host_and_guest(direction, peers)
    _, alice_token = await host.register("alice")
    bob, bob_token = await guest.register("bob")
    room_id = await knock_room(host, alice_token, room_version)
    status, answer = await knock(guest, bob_token, room_id, via=[host.server_name])
    assert status == 200, answer
    return host, guest, alice_token, bob, bob_token, room_id


async def _member_is(peer: Peer, token: str, room_id: str, user_id: str, wanted: str) -> bool:
    return await membership(peer, token, room_id, user_id) == wanted


async def _in_section(peer: Peer, token: str, section: str, room_id: str) -> bool:
    return room_id in await sync_section(peer, token, section)


async def wait_member(peer: Peer, token: str, room_id: str, user_id: str, wanted: str) -> None:
    await eventually(
        lambda: _member_is(peer, token, room_id, user_id, wanted),
        f"{user_id} to be {wanted!r} on {peer.name}",
    )


@pytest.mark.parametrize("room_version", ["7", "10", "12"])
@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_knock_by_id_with_via_then_accept_invite_join(
    peers: tuple[SynapseClient, TransomPeer], direction: str, room_version: str
) -> None:
    host, guest = host_and_guest(direction, peers)
    _, alice_token = await host.register("alice")
    bob, bob_token = await guest.register("bob")
    room_id = await knock_room(host, alice_token, room_version, name="Knock here")

    status, answer = await knock(guest, bob_token, room_id, via=[host.server_name], reason="hi")
    assert status == 200, answer
    assert answer == {"room_id": room_id}
    # The room's server holds the knock as room state, with its reason.
    status, content = await host.request(
        "GET", f"/_matrix/client/v3/rooms/{q(room_id)}/state/m.room.member/{q(bob)}", alice_token
    )
    assert status == 200, content
    assert content["membership"] == "knock"
    assert content.get("reason") == "hi"
    # The knocker's server shows the pending knock in /sync, with stripped state.
    knocked = await sync_section(guest, bob_token, "knock")
    assert room_id in knocked
    types = {e["type"] for e in knocked[room_id]["knock_state"]["events"]}
    # Stripped state (client-server API "Stripped state", v1.16): the create event, the join
    # rules and the knocker's own membership are among it.
    assert {"m.room.create", "m.room.join_rules", "m.room.member"} <= types
    stripped = {e["type"]: e for e in knocked[room_id]["knock_state"]["events"]}
    assert stripped["m.room.join_rules"]["content"]["join_rule"] == "knock"
    assert stripped["m.room.name"]["content"]["name"] == "Knock here"
    assert stripped["m.room.create"]["content"].get("room_version", "1") == room_version

    # Accept: the host invites the knocker, who then joins.
    status, answer = await room_action(host, alice_token, room_id, "invite", user_id=bob)
    assert status == 200, answer
    await eventually(lambda: _in_section(guest, bob_token, "invite", room_id), "the invite")
    status, answer = await join(guest, bob_token, room_id, via=[host.server_name])
    assert status == 200, answer
    await wait_member(host, alice_token, room_id, bob, "join")
    assert not await _in_section(guest, bob_token, "knock", room_id)
    await send_text(guest, bob_token, room_id, "thanks")


@pytest.mark.parametrize("room_version", ["10", "12"])
@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_knock_on_knock_restricted_room(
    peers: tuple[SynapseClient, TransomPeer], direction: str, room_version: str
) -> None:
    """Join rule ``knock_restricted`` (room versions 10+) admits knocks like ``knock``."""
    host, guest = host_and_guest(direction, peers)
    _, alice_token = await host.register("alice")
    bob, bob_token = await guest.register("bob")
    space_id = await create_room(host, alice_token, preset="private_chat", room_version="12")
    room_id = await create_room(
        host, alice_token, preset="private_chat", room_version=room_version,
        initial_state=[{"type": "m.room.join_rules", "state_key": "", "content": {
            "join_rule": "knock_restricted",
            "allow": [{"type": "m.room_membership", "room_id": space_id}]}}],
    )  # fmt: skip

    status, answer = await knock(guest, bob_token, room_id, via=[host.server_name])
    assert status == 200, answer
    await wait_member(host, alice_token, room_id, bob, "knock")
    assert await _in_section(guest, bob_token, "knock", room_id)


@pytest.mark.parametrize("room_version", ["7", "10", "12"])
@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_knock_by_alias(
    peers: tuple[SynapseClient, TransomPeer], direction: str, room_version: str
) -> None:
    host, guest = host_and_guest(direction, peers)
    _, alice_token = await host.register("alice")
    bob, bob_token = await guest.register("bob")
    alias_name = "knockme" + secrets.token_hex(3)
    room_id = await knock_room(host, alice_token, room_version, room_alias_name=alias_name)

    status, answer = await knock(guest, bob_token, f"#{alias_name}:{host.server_name}")
    assert status == 200, answer
    assert answer["room_id"] == room_id
    await wait_member(host, alice_token, room_id, bob, "knock")
    assert await _in_section(guest, bob_token, "knock", room_id)


@pytest.mark.parametrize("room_version", ["7", "10", "12"])
@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_reject_by_kick_then_knock_again(
    peers: tuple[SynapseClient, TransomPeer], direction: str, room_version: str
) -> None:
    host, guest, alice_token, bob, bob_token, room_id = await knocked(
        peers, direction, room_version
    )

    status, answer = await room_action(
        host, alice_token, room_id, "kick", user_id=bob, reason="not now"
    )
    assert status == 200, answer
    await wait_member(host, alice_token, room_id, bob, "leave")
    # The knocker's server is not in the room, and the spec does not make the room's server tell
    # it. Transom sends the kick there anyway; Synapse drops it ("not in the room"), and Synapse
    # never sends one: the knocker's own server may still list the knock until the next one.

    # A rejected knocker may knock again (leave -> knock is allowed by the auth rules).
    status, answer = await knock(guest, bob_token, room_id, via=[host.server_name], reason="again")
    assert status == 200, answer
    await wait_member(host, alice_token, room_id, bob, "knock")
    assert await _in_section(guest, bob_token, "knock", room_id)


@pytest.mark.parametrize("room_version", ["7", "10", "12"])
@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_reject_by_ban_then_knock_refused_until_unbanned(
    peers: tuple[SynapseClient, TransomPeer], direction: str, room_version: str
) -> None:
    host, guest, alice_token, bob, bob_token, room_id = await knocked(
        peers, direction, room_version
    )

    status, answer = await room_action(host, alice_token, room_id, "ban", user_id=bob)
    assert status == 200, answer
    await wait_member(host, alice_token, room_id, bob, "ban")

    # The banned user's knock is refused by the room's server (auth rules: banned -> reject).
    status, answer = await knock(guest, bob_token, room_id, via=[host.server_name])
    assert status == 403, answer
    assert await membership(host, alice_token, room_id, bob) == "ban"

    # Once unbanned (ban -> leave), the user may knock again.
    status, answer = await room_action(host, alice_token, room_id, "unban", user_id=bob)
    assert status == 200, answer
    status, answer = await knock(guest, bob_token, room_id, via=[host.server_name])
    assert status == 200, answer
    await wait_member(host, alice_token, room_id, bob, "knock")


@pytest.mark.parametrize("room_version", ["7", "10", "12"])
@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_rescind_knock(
    peers: tuple[SynapseClient, TransomPeer], direction: str, room_version: str
) -> None:
    host, guest, alice_token, bob, bob_token, room_id = await knocked(
        peers, direction, room_version
    )
    await wait_member(host, alice_token, room_id, bob, "knock")

    status, answer = await room_action(guest, bob_token, room_id, "leave")
    assert status == 200, answer
    await eventually(
        lambda: _not(_in_section(guest, bob_token, "knock", room_id)), "the knock gone on guest"
    )
    if guest.name == "transom":
        # Transom rescinds through the room's server (make_leave/send_leave).
        await wait_member(host, alice_token, room_id, bob, "leave")
    # (Synapse as the knocker's server only writes a local leave; see the module docstring.)

    # After rescinding, knocking again works.
    status, answer = await knock(guest, bob_token, room_id, via=[host.server_name])
    assert status == 200, answer
    assert await _in_section(guest, bob_token, "knock", room_id)


@pytest.mark.parametrize("room_version", ["7", "10", "12"])
@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("join_rule", ["invite", "public"])
async def test_knock_refused_for_wrong_join_rule(
    peers: tuple[SynapseClient, TransomPeer], direction: str, join_rule: str, room_version: str
) -> None:
    host, guest = host_and_guest(direction, peers)
    _, alice_token = await host.register("alice")
    bob, bob_token = await guest.register("bob")
    room_id = await knock_room(host, alice_token, room_version, join_rule=join_rule)

    status, answer = await knock(guest, bob_token, room_id, via=[host.server_name])
    assert status == 403, answer
    assert answer["errcode"] == "M_FORBIDDEN"
    assert await membership(host, alice_token, room_id, bob) is None
    assert not await _in_section(guest, bob_token, "knock", room_id)


@pytest.mark.parametrize("room_version", ["7", "10", "12"])
@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_knock_refused_for_banned_user(
    peers: tuple[SynapseClient, TransomPeer], direction: str, room_version: str
) -> None:
    host, guest = host_and_guest(direction, peers)
    _, alice_token = await host.register("alice")
    bob, bob_token = await guest.register("bob")
    room_id = await knock_room(host, alice_token, room_version)
    status, answer = await room_action(host, alice_token, room_id, "ban", user_id=bob)
    assert status == 200, answer

    status, answer = await knock(guest, bob_token, room_id, via=[host.server_name])
    assert status == 403, answer
    assert answer["errcode"] in ("M_FORBIDDEN", "M_BAD_STATE")  # Synapse: M_BAD_STATE
    assert await membership(host, alice_token, room_id, bob) == "ban"
    assert not await _in_section(guest, bob_token, "knock", room_id)


# -- the room's other servers receive the knock --------------------------------------------


async def knock_room_with_resident(
    host: Peer, token: str, resident: Peer, carol: str, carol_token: str, room_version: str
) -> str:
    """A knock room on ``host`` (made with ``token``) that ``carol`` of ``resident`` has joined
    after an invite, seen joined on ``host``."""
    room_id = await knock_room(host, token, room_version)
    status, answer = await room_action(host, token, room_id, "invite", user_id=carol)
    assert status == 200, answer
    await eventually(lambda: _in_section(resident, carol_token, "invite", room_id), "invite")
    status, answer = await join(resident, carol_token, room_id, via=[host.server_name])
    assert status == 200, answer
    await wait_member(host, token, room_id, carol, "join")
    return room_id


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def third(
    tmp_path_factory: pytest.TempPathFactory,
) -> Any:
    """A second Transom: the knocker's server while the other two are both in the room."""
    async with transom_peer(tmp_path_factory.mktemp("transom-third")) as client:
        yield client


@pytest.mark.parametrize("room_version", ["7", "12"])
@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_other_resident_server_receives_the_knock(
    peers: tuple[SynapseClient, TransomPeer], third: TransomPeer, direction: str, room_version: str
) -> None:
    """The room's server sends the knock on to every other server in the room (send_knock)."""
    host, resident = host_and_guest(direction, peers)
    alice, alice_token = await host.register("alice")
    carol, carol_token = await resident.register("carol")
    dave, dave_token = await third.register("dave")
    room_id = await knock_room_with_resident(
        host, alice_token, resident, carol, carol_token, room_version
    )

    status, answer = await knock(third, dave_token, room_id, via=[host.server_name])
    assert status == 200, answer
    await wait_member(host, alice_token, room_id, dave, "knock")
    await wait_member(resident, carol_token, room_id, dave, "knock")
    assert alice


async def _not(value: Any) -> bool:
    return not await value


@pytest.mark.parametrize("room_version", ["10", "12"])
@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_member_of_allowed_room_joins_knock_restricted_room_without_knocking(
    peers: tuple[SynapseClient, TransomPeer], direction: str, room_version: str
) -> None:
    """Join rule ``knock_restricted`` (v10+): a member of an ``allow``ed room joins directly
    (server-server API "Restricted rooms": the resident server signs the join and names an
    authorising user in ``join_authorised_via_users_server``); anyone else has to knock."""
    host, guest = host_and_guest(direction, peers)
    alice, alice_token = await host.register("alice")
    bob, bob_token = await guest.register("bob")
    carol, carol_token = await guest.register("carol")
    space_id = await create_room(host, alice_token, preset="public_chat", room_version="12")
    status, answer = await join(guest, bob_token, space_id, via=[host.server_name])
    assert status == 200, answer
    await wait_member(host, alice_token, space_id, bob, "join")
    room_id = await create_room(
        host, alice_token, preset="private_chat", room_version=room_version,
        initial_state=[{"type": "m.room.join_rules", "state_key": "", "content": {
            "join_rule": "knock_restricted",
            "allow": [{"type": "m.room_membership", "room_id": space_id}]}}],
    )  # fmt: skip

    status, answer = await join(guest, bob_token, room_id, via=[host.server_name])
    assert status == 200, answer
    await wait_member(host, alice_token, room_id, bob, "join")
    status, content = await host.request(
        "GET", f"/_matrix/client/v3/rooms/{q(room_id)}/state/m.room.member/{q(bob)}", alice_token
    )
    assert status == 200, content
    assert content.get("join_authorised_via_users_server") == alice

    # Carol is in no allowed room: her join is refused, her knock is taken.
    status, answer = await join(guest, carol_token, room_id, via=[host.server_name])
    assert status == 403, answer
    status, answer = await knock(guest, carol_token, room_id, via=[host.server_name])
    assert status == 200, answer
    await wait_member(host, alice_token, room_id, carol, "knock")


@pytest.mark.parametrize("room_version", ["7", "12"])
@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_knock_through_a_resident_server_that_did_not_create_the_room(
    peers: tuple[SynapseClient, TransomPeer], third: TransomPeer, direction: str, room_version: str
) -> None:
    """``via`` names the other resident server: it answers make_knock/send_knock for a room
    created elsewhere and sends the knock on to the room's creator's server."""
    host, resident = host_and_guest(direction, peers)
    _, alice_token = await host.register("alice")
    carol, carol_token = await resident.register("carol")
    dave, dave_token = await third.register("dave")
    room_id = await knock_room_with_resident(
        host, alice_token, resident, carol, carol_token, room_version
    )

    status, answer = await knock(third, dave_token, room_id, via=[resident.server_name])
    assert status == 200, answer
    await wait_member(resident, carol_token, room_id, dave, "knock")
    await wait_member(host, alice_token, room_id, dave, "knock")
    assert await _in_section(third, dave_token, "knock", room_id)


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_knock_after_the_knockers_server_left_the_room(
    peers: tuple[SynapseClient, TransomPeer], direction: str
) -> None:
    """The knocker's server was in the room once (so it knows the room, with stale state) and
    has left it; the room then became a knock room. The knock must go through the room's
    server, not be built on the stale state."""
    host, guest = host_and_guest(direction, peers)
    _, alice_token = await host.register("alice")
    bob, bob_token = await guest.register("bob")
    room_id = await create_room(host, alice_token, preset="public_chat", room_version="10")
    status, answer = await join(guest, bob_token, room_id, via=[host.server_name])
    assert status == 200, answer
    await wait_member(host, alice_token, room_id, bob, "join")
    status, answer = await room_action(guest, bob_token, room_id, "leave")
    assert status == 200, answer
    await wait_member(host, alice_token, room_id, bob, "leave")
    status, answer = await host.request(
        "PUT", f"/_matrix/client/v3/rooms/{q(room_id)}/state/m.room.join_rules/", alice_token,
        json={"join_rule": "knock"},
    )  # fmt: skip
    assert status == 200, answer

    status, answer = await knock(guest, bob_token, room_id, via=[host.server_name])
    assert status == 200, answer
    await wait_member(host, alice_token, room_id, bob, "knock")
    assert await _in_section(guest, bob_token, "knock", room_id)


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_knock_refused_for_invited_and_joined_users(
    peers: tuple[SynapseClient, TransomPeer], direction: str
) -> None:
    """An invited or joined user may not knock (knock rule: membership ``invite``/``join``
    -> reject); their membership is left as it was."""
    host, guest = host_and_guest(direction, peers)
    _, alice_token = await host.register("alice")
    bob, bob_token = await guest.register("bob")
    room_id = await knock_room(host, alice_token, "12")
    status, answer = await room_action(host, alice_token, room_id, "invite", user_id=bob)
    assert status == 200, answer
    await eventually(lambda: _in_section(guest, bob_token, "invite", room_id), "the invite")

    status, answer = await knock(guest, bob_token, room_id, via=[host.server_name])
    assert status == 403, answer
    assert await membership(host, alice_token, room_id, bob) == "invite"

    status, answer = await join(guest, bob_token, room_id, via=[host.server_name])
    assert status == 200, answer
    await wait_member(host, alice_token, room_id, bob, "join")
    status, answer = await knock(guest, bob_token, room_id, via=[host.server_name])
    assert status == 403, answer
    assert await membership(host, alice_token, room_id, bob) == "join"


@pytest.mark.parametrize("room_version", ["7", "10", "12"])
@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_room_summary_before_and_while_knocking(
    peers: tuple[SynapseClient, TransomPeer], direction: str, room_version: str
) -> None:
    """Client-server API "Room summaries" (v1.15) of a knock room on the other server, through
    federation ``/hierarchy``: what a user sees before deciding to knock. A private room
    (join rule ``invite``) is not previewable."""
    host, guest = host_and_guest(direction, peers)
    _, alice_token = await host.register("alice")
    _, bob_token = await guest.register("bob")
    room_id = await knock_room(host, alice_token, room_version, name="Preview me")
    path = f"/_matrix/client/v1/room_summary/{q(room_id)}"

    status, body = await guest.request("GET", path, bob_token, params={"via": host.server_name})
    assert status == 200, body
    assert body["room_id"] == room_id
    assert body["join_rule"] == "knock"
    assert body["name"] == "Preview me"
    assert body["num_joined_members"] == 1
    assert body["membership"] == "leave"

    private_id = await knock_room(host, alice_token, room_version, join_rule="invite")
    status, body = await guest.request(
        "GET", f"/_matrix/client/v1/room_summary/{q(private_id)}", bob_token,
        params={"via": host.server_name},
    )  # fmt: skip
    assert status == 404, body
    assert body["errcode"] == "M_NOT_FOUND"

    status, answer = await knock(guest, bob_token, room_id, via=[host.server_name])
    assert status == 200, answer
    status, body = await guest.request("GET", path, bob_token, params={"via": host.server_name})
    assert status == 200, body
    assert body["membership"] == "knock"
