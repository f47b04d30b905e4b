"""Federation between Transom and Synapse (from PyPI) over TLS on loopback, in both directions.

Server-Server API "Joining Rooms" (make_join/send_join), "Inviting to a room" (invite v2),
"Leaving Rooms" (make_leave/send_leave), "Transactions" (PDUs both ways), "Backfilling" and the
Client-Server API views of the result: ``/messages`` history, room state, ``joined_rooms``.
Each scenario runs with the room on Synapse and a Transom user joining it, and the other way round.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable
from typing import Any

import pytest

from support.servers import bodies, has_bodies, q

from .conftest import Peer, SynapseClient, TransomPeer, eventually
from .helpers import (
    DIRECTIONS,
    create_room,
    get_state,
    host_and_guest,
    join,
    joined_rooms,
    membership,
    put_state,
    room_action,
    send_text,
    sync_section,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.mark.parametrize("room_version", ["10", "12"])
@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_join_by_id_with_via_then_messages_history_and_state(
    peers: tuple[SynapseClient, TransomPeer], direction: str, room_version: str
) -> None:
    host, guest = host_and_guest(direction, peers)
    alice, alice_token = await host.register("alice")
    bob, bob_token = await guest.register("bob")
    room_id = await create_room(host, alice_token, preset="public_chat", room_version=room_version)
    await send_text(host, alice_token, room_id, "before-join")

    status, answer = await join(guest, bob_token, room_id, via=[host.server_name])
    assert status == 200, answer
    assert answer["room_id"] == room_id
    assert room_id in await joined_rooms(guest, bob_token)
    assert await membership(guest, bob_token, room_id, bob) == "join"
    await eventually(
        lambda: _is(membership(host, alice_token, room_id, bob), "join"), "the join on the host"
    )

    await send_text(guest, bob_token, room_id, "from-guest")
    await eventually(
        lambda: has_bodies(host, alice_token, room_id, ["from-guest"]), "guest message on host"
    )
    await send_text(host, alice_token, room_id, "from-host")
    await eventually(
        lambda: has_bodies(guest, bob_token, room_id, ["from-host"]), "host message on guest"
    )
    # History after the join, in order, through /messages on both servers.
    for peer, token in ((host, alice_token), (guest, bob_token)):
        seen = [b for b in await bodies(peer, token, room_id) if b.startswith("from-")]
        assert seen == ["from-guest", "from-host"], (peer.name, seen)
    assert (await bodies(host, alice_token, room_id))[0] == "before-join"
    # The same through /sync timelines and the members list of each server.
    for peer, token in ((host, alice_token), (guest, bob_token)):
        joined = await sync_section(peer, token, "join")
        timeline = [e["content"].get("body") for e in joined[room_id]["timeline"]["events"]]
        assert "from-guest" in timeline and "from-host" in timeline, (peer.name, timeline)
        status, body = await peer.request(
            "GET", f"/_matrix/client/v3/rooms/{q(room_id)}/joined_members", token
        )
        assert status == 200, body
        assert set(body["joined"]) == {alice, bob}, (peer.name, body)

    # State both ways: the host names the room; the host raises the guest user to power 50
    # (public_chat requires it for the topic) and the guest then sets the topic.
    status, _ = await put_state(host, alice_token, room_id, "m.room.name", {"name": "Shared"})
    assert status == 200
    await eventually(
        lambda: _has_content(guest, bob_token, room_id, "m.room.name", "name", "Shared"),
        "the room name on the guest",
    )
    levels = await get_state(host, alice_token, room_id, "m.room.power_levels")
    assert levels is not None
    levels.setdefault("users", {})[bob] = 50
    status, body = await put_state(host, alice_token, room_id, "m.room.power_levels", levels)
    assert status == 200, body

    async def topic_accepted() -> bool:
        status, _ = await put_state(guest, bob_token, room_id, "m.room.topic", {"topic": "t1"})
        return status == 200

    await eventually(topic_accepted, "the guest may set the topic once the power change arrives")
    await eventually(
        lambda: _has_content(host, alice_token, room_id, "m.room.topic", "topic", "t1"),
        "the guest's topic on the host",
    )


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_history_from_before_the_join_through_messages(
    peers: tuple[SynapseClient, TransomPeer], direction: str
) -> None:
    """A room with ``shared`` history: the joining server backfills (``GET /backfill``) what
    was said before the join when its user paginates ``/messages``."""
    host, guest = host_and_guest(direction, peers)
    _, alice_token = await host.register("alice")
    _, bob_token = await guest.register("bob")
    room_id = await create_room(host, alice_token, preset="public_chat", room_version="12")
    old = [f"old-{n}" for n in range(25)]
    for text in old:
        await send_text(host, alice_token, room_id, text)
    status, answer = await join(guest, bob_token, room_id, via=[host.server_name])
    assert status == 200, answer

    async def paged_history() -> list[str]:
        """Every message body, paginating backwards ten events at a time."""
        found: list[str] = []
        params = {"dir": "b", "limit": "10"}
        for _ in range(20):
            status, page = await guest.request(
                "GET", f"/_matrix/client/v3/rooms/{q(room_id)}/messages", bob_token, params=params
            )
            assert status == 200, page
            found += [e["content"]["body"] for e in page["chunk"] if e["type"] == "m.room.message"]
            if not page["chunk"] or "end" not in page:
                break
            params = {"dir": "b", "limit": "10", "from": page["end"]}
        return found[::-1]

    async def complete() -> bool:
        return [b for b in await paged_history() if b.startswith("old-")] == old

    await eventually(complete, "the whole pre-join history, page by page, on the guest")


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_join_by_alias(peers: tuple[SynapseClient, TransomPeer], direction: str) -> None:
    host, guest = host_and_guest(direction, peers)
    _, alice_token = await host.register("alice")
    bob, bob_token = await guest.register("bob")
    alias_name = "lobby" + secrets.token_hex(3)
    room_id = await create_room(
        host, alice_token, preset="public_chat", room_alias_name=alias_name, room_version="12"
    )
    alias = f"#{alias_name}:{host.server_name}"

    # The guest's server resolves the alias over federation (directory query) and joins.
    status, answer = await join(guest, bob_token, alias)
    assert status == 200, answer
    assert answer["room_id"] == room_id
    await eventually(
        lambda: _is(membership(host, alice_token, room_id, bob), "join"), "the join on the host"
    )
    status, body = await guest.request("GET", f"/_matrix/client/v3/directory/room/%23{alias[1:]}")
    assert status == 200, body
    assert body["room_id"] == room_id
    assert host.server_name in body["servers"]


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_invite_to_invite_only_room_then_join_and_leave(
    peers: tuple[SynapseClient, TransomPeer], direction: str
) -> None:
    host, guest = host_and_guest(direction, peers)
    alice, alice_token = await host.register("alice")
    bob, bob_token = await guest.register("bob")
    room_id = await create_room(host, alice_token, preset="private_chat", room_version="10")

    # Not invited: the join is refused by the resident server.
    status, answer = await join(guest, bob_token, room_id, via=[host.server_name])
    assert status == 403, answer

    status, answer = await room_action(host, alice_token, room_id, "invite", user_id=bob)
    assert status == 200, answer

    async def invited_on_guest() -> bool:
        status, body = await guest.request(
            "GET", "/_matrix/client/v3/sync", bob_token, params={"timeout": "0"}
        )
        return status == 200 and room_id in body.get("rooms", {}).get("invite", {})

    await eventually(invited_on_guest, "the invite in the guest's /sync")
    status, answer = await join(guest, bob_token, room_id, via=[host.server_name])
    assert status == 200, answer
    await eventually(
        lambda: _is(membership(host, alice_token, room_id, bob), "join"), "the join on the host"
    )
    await send_text(guest, bob_token, room_id, "hello")
    await eventually(lambda: has_bodies(host, alice_token, room_id, ["hello"]), "the message")

    status, answer = await room_action(guest, bob_token, room_id, "leave")
    assert status == 200, answer
    assert room_id not in await joined_rooms(guest, bob_token)
    await eventually(
        lambda: _is(membership(host, alice_token, room_id, bob), "leave"), "the leave on the host"
    )
    # After leaving, the room's new messages no longer reach the guest's user.
    await send_text(host, alice_token, room_id, "after-leave")
    await asyncio.sleep(0.5)
    assert "after-leave" not in await bodies(guest, bob_token, room_id)
    assert alice  # the host user stays joined


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_invite_rejected_over_federation(
    peers: tuple[SynapseClient, TransomPeer], direction: str
) -> None:
    host, guest = host_and_guest(direction, peers)
    _, alice_token = await host.register("alice")
    bob, bob_token = await guest.register("bob")
    room_id = await create_room(host, alice_token, preset="private_chat", room_version="12")
    status, answer = await room_action(host, alice_token, room_id, "invite", user_id=bob)
    assert status == 200, answer

    async def can_reject() -> bool:
        status, _ = await room_action(guest, bob_token, room_id, "leave")
        return status == 200

    await eventually(can_reject, "the invite reaching the guest and its rejection")
    await eventually(
        lambda: _is(membership(host, alice_token, room_id, bob), "leave"),
        "the rejection (make_leave/send_leave) on the host",
    )


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_concurrent_state_changes_converge(
    peers: tuple[SynapseClient, TransomPeer], direction: str
) -> None:
    host, guest = host_and_guest(direction, peers)
    _, alice_token = await host.register("alice")
    bob, bob_token = await guest.register("bob")
    room_id = await create_room(
        host, alice_token, preset="public_chat", room_version="12",
        power_level_content_override={"users": {bob: 100}},
    )  # fmt: skip
    status, answer = await join(guest, bob_token, room_id, via=[host.server_name])
    assert status == 200, answer
    await eventually(
        lambda: _is(membership(host, alice_token, room_id, bob), "join"), "the join on the host"
    )

    # Both servers change the same piece of state at the same time: two forward extremities.
    results = await asyncio.gather(
        put_state(host, alice_token, room_id, "m.room.topic", {"topic": "by-host"}),
        put_state(guest, bob_token, room_id, "m.room.topic", {"topic": "by-guest"}),
        put_state(host, alice_token, room_id, "m.room.name", {"name": "host-name"}),
        put_state(guest, bob_token, room_id, "m.room.name", {"name": "guest-name"}),
    )
    # The guest's server may already have the demotion (then it refuses: same end state).
    assert results[0][0] == 200 and results[1][0] in (200, 403), results
    # A message from each side merges the forks on both servers.
    await send_text(host, alice_token, room_id, "merge-host")
    await send_text(guest, bob_token, room_id, "merge-guest")
    await eventually(
        lambda: has_bodies(host, alice_token, room_id, ["merge-host", "merge-guest"]), "merge A"
    )
    await eventually(
        lambda: has_bodies(guest, bob_token, room_id, ["merge-host", "merge-guest"]), "merge B"
    )

    async def same_state() -> bool:
        host_state = await _state_map(host, alice_token, room_id)
        guest_state = await _state_map(guest, bob_token, room_id)
        return host_state == guest_state and host_state != {}

    await eventually(same_state, "the same current state on both servers", timeout=20)
    state = await _state_map(host, alice_token, room_id)
    assert state[("m.room.topic", "")]["topic"] in ("by-host", "by-guest")
    assert state[("m.room.name", "")]["name"] in ("host-name", "guest-name")


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_concurrent_demotion_and_state_change_resolve_the_same(
    peers: tuple[SynapseClient, TransomPeer], direction: str
) -> None:
    """State resolution v2 ("Room versions" 2+, used by v12 here): while the host takes the
    guest's power away, the guest (still powerful on its own server) names the room. Power
    events are applied first, so the guest's name fails against the resolved power levels on
    both servers, and both end with the host's name."""
    host, guest = host_and_guest(direction, peers)
    _, alice_token = await host.register("alice")
    bob, bob_token = await guest.register("bob")
    room_id = await create_room(
        host, alice_token, preset="public_chat", room_version="12",
        power_level_content_override={"users": {bob: 50}},
    )  # fmt: skip
    status, answer = await join(guest, bob_token, room_id, via=[host.server_name])
    assert status == 200, answer
    await eventually(
        lambda: _is(membership(host, alice_token, room_id, bob), "join"), "the join on the host"
    )
    status, _ = await put_state(host, alice_token, room_id, "m.room.name", {"name": "host-name"})
    assert status == 200
    await eventually(
        lambda: _has_content(guest, bob_token, room_id, "m.room.name", "name", "host-name"),
        "the host's name on the guest",
    )
    levels = await get_state(host, alice_token, room_id, "m.room.power_levels")
    assert levels is not None
    levels["users"].pop(bob)

    results = await asyncio.gather(
        put_state(host, alice_token, room_id, "m.room.power_levels", levels),
        put_state(guest, bob_token, room_id, "m.room.name", {"name": "guest-name"}),
    )
    # The guest's server may already have the demotion (then it refuses: same end state).
    assert results[0][0] == 200 and results[1][0] in (200, 403), results
    await send_text(host, alice_token, room_id, "merge-host")
    await send_text(guest, bob_token, room_id, "merge-guest")
    merged = ["merge-host", "merge-guest"]
    await eventually(lambda: has_bodies(host, alice_token, room_id, merged), "merge on host")
    await eventually(lambda: has_bodies(guest, bob_token, room_id, merged), "merge on guest")

    async def same_state() -> bool:
        host_state = await _state_map(host, alice_token, room_id)
        return host_state != {} and host_state == await _state_map(guest, bob_token, room_id)

    await eventually(same_state, "the same current state on both servers", timeout=20)
    state = await _state_map(host, alice_token, room_id)
    users = state[("m.room.power_levels", "")].get("users")
    assert isinstance(users, dict) and bob not in users
    assert state[("m.room.name", "")]["name"] == "host-name"


async def _state_map(peer: Peer, token: str, room_id: str) -> dict[tuple[str, str], Any]:
    status, body = await peer.request("GET", f"/_matrix/client/v3/rooms/{q(room_id)}/state", token)
    if status != 200:
        return {}
    return {(e["type"], e["state_key"]): e["content"] for e in body}


async def _is(value: Awaitable[object], wanted: object) -> bool:
    return await value == wanted


async def _has_content(
    peer: Peer, token: str, room_id: str, event_type: str, key: str, wanted: str
) -> bool:
    content = await get_state(peer, token, room_id, event_type)
    return content is not None and content.get(key) == wanted


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_kick_ban_unban_of_a_remote_member(
    peers: tuple[SynapseClient, TransomPeer], direction: str
) -> None:
    """Client-server API "Room membership" kick/ban/unban of a member on the other server."""
    host, guest = host_and_guest(direction, peers)
    _, alice_token = await host.register("alice")
    bob, bob_token = await guest.register("bob")
    room_id = await create_room(host, alice_token, preset="public_chat", room_version="10")
    status, answer = await join(guest, bob_token, room_id, via=[host.server_name])
    assert status == 200, answer
    await eventually(
        lambda: _is(membership(host, alice_token, room_id, bob), "join"), "the join on the host"
    )

    status, answer = await room_action(host, alice_token, room_id, "kick", user_id=bob)
    assert status == 200, answer
    await eventually(lambda: _not_joined(guest, bob_token, room_id), "the kick on the guest")
    status, answer = await join(guest, bob_token, room_id, via=[host.server_name])
    assert status == 200, answer
    await eventually(
        lambda: _is(membership(host, alice_token, room_id, bob), "join"), "the rejoin on the host"
    )

    status, answer = await room_action(host, alice_token, room_id, "ban", user_id=bob)
    assert status == 200, answer
    await eventually(lambda: _not_joined(guest, bob_token, room_id), "the ban on the guest")
    status, answer = await join(guest, bob_token, room_id, via=[host.server_name])
    assert status == 403, answer

    status, answer = await room_action(host, alice_token, room_id, "unban", user_id=bob)
    assert status == 200, answer
    status, answer = await join(guest, bob_token, room_id, via=[host.server_name])
    assert status == 200, answer
    await eventually(
        lambda: _is(membership(host, alice_token, room_id, bob), "join"), "the join after unban"
    )


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_redaction_reaches_the_other_server(
    peers: tuple[SynapseClient, TransomPeer], direction: str
) -> None:
    """Client-server API "Redactions": the redacted message loses its body on both servers."""
    host, guest = host_and_guest(direction, peers)
    _, alice_token = await host.register("alice")
    _, bob_token = await guest.register("bob")
    room_id = await create_room(host, alice_token, preset="public_chat", room_version="12")
    status, answer = await join(guest, bob_token, room_id, via=[host.server_name])
    assert status == 200, answer
    event_id = await send_text(guest, bob_token, room_id, "oops")
    await eventually(lambda: has_bodies(host, alice_token, room_id, ["oops"]), "the message")

    status, answer = await guest.request(
        "PUT", f"/_matrix/client/v3/rooms/{q(room_id)}/redact/{q(event_id)}/r1", bob_token,
        json={"reason": "typo"},
    )  # fmt: skip
    assert status == 200, answer

    async def redacted_on(peer: Peer, token: str) -> bool:
        status, body = await peer.request(
            "GET", f"/_matrix/client/v3/rooms/{q(room_id)}/event/{q(event_id)}", token
        )
        return status == 200 and body["content"] == {}

    await eventually(lambda: redacted_on(host, alice_token), "the redaction on the host")
    assert await redacted_on(guest, bob_token)


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_profile_and_public_rooms_queries(
    peers: tuple[SynapseClient, TransomPeer], direction: str
) -> None:
    """Server-server API "Querying for information" (``/query/profile``) and "Public Room
    Directory" (``GET /publicRooms`` with ``server``)."""
    host, guest = host_and_guest(direction, peers)
    alice, alice_token = await host.register("alice")
    _, bob_token = await guest.register("bob")
    status, _ = await host.request(
        "PUT", f"/_matrix/client/v3/profile/{q(alice)}/displayname", alice_token,
        json={"displayname": "Alice Remote"},
    )  # fmt: skip
    assert status == 200
    status, body = await guest.request("GET", f"/_matrix/client/v3/profile/{q(alice)}", bob_token)
    assert status == 200, body
    assert body.get("displayname") == "Alice Remote"
    # A user who never set a profile: both servers default the display name to the localpart.
    carol, _ = await host.register("carol")
    status, body = await guest.request("GET", f"/_matrix/client/v3/profile/{q(carol)}", bob_token)
    assert status == 200, body
    assert body.get("displayname") == carol[1:].split(":", 1)[0]

    name = "Directory " + secrets.token_hex(3)
    room_id = await create_room(
        host, alice_token, preset="public_chat", visibility="public", name=name,
        room_version="12",
    )  # fmt: skip

    async def listed() -> bool:
        status, body = await guest.request(
            "GET", "/_matrix/client/v3/publicRooms", bob_token,
            params={"server": host.server_name, "limit": "500"},
        )  # fmt: skip
        assert status == 200, body
        chunk = [r for r in body["chunk"] if r["room_id"] == room_id]
        return bool(chunk) and chunk[0].get("name") == name and chunk[0]["join_rule"] == "public"

    # (Synapse updates its directory's room statistics in the background.)
    await eventually(listed, "the room in the host's directory, listed through the guest")


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_unicode_content_and_profile_changes_cross_intact(
    peers: tuple[SynapseClient, TransomPeer], direction: str
) -> None:
    """Canonical JSON ("Appendices": UTF-8, no escapes beyond the required ones) must give both
    servers the same hashes and signatures for non-ASCII content; a display name change sends a
    new ``m.room.member`` event ("Events on change of profile information") to the other side."""
    host, guest = host_and_guest(direction, peers)
    _, alice_token = await host.register("alice")
    bob, bob_token = await guest.register("bob")
    room_id = await create_room(host, alice_token, preset="public_chat", room_version="12")
    status, answer = await join(guest, bob_token, room_id, via=[host.server_name])
    assert status == 200, answer
    texts = ["h\u00e9llo \U0001f419", 'line\u2028sep "quoted" \\ back', "\u0000\u001f ctl"]
    for text in texts:
        await send_text(guest, bob_token, room_id, text)
    await eventually(lambda: has_bodies(host, alice_token, room_id, texts), "unicode on the host")

    status, _ = await guest.request(
        "PUT", f"/_matrix/client/v3/profile/{q(bob)}/displayname", bob_token,
        json={"displayname": "B\u00f6b \u2603"},
    )  # fmt: skip
    assert status == 200

    async def renamed() -> bool:
        content = await get_state(host, alice_token, room_id, "m.room.member", bob)
        return content is not None and content.get("displayname") == "B\u00f6b \u2603"

    await eventually(renamed, "the new display name in the member event on the host")


async def _not_joined(peer: Peer, token: str, room_id: str) -> bool:
    return room_id not in await joined_rooms(peer, token)


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_typing_and_read_receipts_both_ways(
    peers: tuple[SynapseClient, TransomPeer], direction: str
) -> None:
    """Server-server API "Typing Notifications" and "Receipts" (``m.typing``/``m.receipt``
    EDUs), seen in the other server's ``/sync`` ephemeral events."""
    host, guest = host_and_guest(direction, peers)
    alice, alice_token = await host.register("alice")
    bob, bob_token = await guest.register("bob")
    room_id = await create_room(host, alice_token, preset="public_chat", room_version="12")
    status, answer = await join(guest, bob_token, room_id, via=[host.server_name])
    assert status == 200, answer
    await eventually(
        lambda: _is(membership(host, alice_token, room_id, bob), "join"), "the join on the host"
    )

    await _typing_and_receipt_seen(host, alice_token, alice, guest, bob_token, room_id)
    await _typing_and_receipt_seen(guest, bob_token, bob, host, alice_token, room_id)


async def _typing_and_receipt_seen(
    peer: Peer, token: str, user: str, other: Peer, other_token: str, room_id: str
) -> None:
    """``user`` (on ``peer``) types and reads a message; ``other``'s /sync shows both."""
    status, answer = await peer.request(
        "PUT", f"/_matrix/client/v3/rooms/{q(room_id)}/typing/{q(user)}", token,
        json={"typing": True, "timeout": 20000},
    )  # fmt: skip
    assert status == 200, answer

    async def typing_seen() -> bool:
        ephemeral = await _ephemeral(other, other_token, room_id, "m.typing")
        return any(user in e["content"].get("user_ids", []) for e in ephemeral)

    await eventually(typing_seen, f"{user} typing, seen on {other.name}")

    text = f"read-me-{peer.name}"
    event_id = await send_text(other, other_token, room_id, text)
    await eventually(lambda: has_bodies(peer, token, room_id, [text]), "the message to read")
    status, answer = await peer.request(
        "POST", f"/_matrix/client/v3/rooms/{q(room_id)}/receipt/m.read/{q(event_id)}", token,
        json={},
    )  # fmt: skip
    assert status == 200, answer

    async def receipt_seen() -> bool:
        ephemeral = await _ephemeral(other, other_token, room_id, "m.receipt")
        return any(user in e["content"].get(event_id, {}).get("m.read", {}) for e in ephemeral)

    await eventually(receipt_seen, f"{user}'s read receipt, seen on {other.name}")


async def _ephemeral(peer: Peer, token: str, room_id: str, event_type: str) -> list[Any]:
    status, body = await peer.request(
        "GET", "/_matrix/client/v3/sync", token, params={"timeout": "0"}
    )
    assert status == 200, body
    room = body.get("rooms", {}).get("join", {}).get(room_id, {})
    return [e for e in room.get("ephemeral", {}).get("events", []) if e["type"] == event_type]


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_v12_additional_creator_on_the_other_server(
    peers: tuple[SynapseClient, TransomPeer], direction: str
) -> None:
    """Room version 12 ("Room version 12", MSC4289): users in ``additional_creators`` of the
    create event have infinite power; the other server's creator may change power levels,
    which the room's server accepts, and may not be listed in ``users`` itself."""
    host, guest = host_and_guest(direction, peers)
    alice, alice_token = await host.register("alice")
    bob, bob_token = await guest.register("bob")
    carol, _ = await host.register("carol")
    room_id = await create_room(
        host, alice_token, preset="public_chat", room_version="12",
        creation_content={"additional_creators": [bob]},
    )  # fmt: skip
    status, answer = await join(guest, bob_token, room_id, via=[host.server_name])
    assert status == 200, answer
    await eventually(
        lambda: _is(membership(host, alice_token, room_id, bob), "join"), "the join on the host"
    )
    levels = await get_state(guest, bob_token, room_id, "m.room.power_levels")
    assert levels is not None
    assert bob not in levels.get("users", {}) and alice not in levels.get("users", {})

    levels.setdefault("users", {})[carol] = 75
    status, answer = await put_state(guest, bob_token, room_id, "m.room.power_levels", levels)
    assert status == 200, answer

    async def carol_raised() -> bool:
        content = await get_state(host, alice_token, room_id, "m.room.power_levels")
        return content is not None and content.get("users", {}).get(carol) == 75

    await eventually(carol_raised, "the guest creator's power change on the host")
    # Creators may not appear in ``users`` (v12 auth rule for m.room.power_levels).
    levels["users"][bob] = 100
    status, answer = await put_state(guest, bob_token, room_id, "m.room.power_levels", levels)
    assert status in (400, 403), answer


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_burst_of_concurrent_messages_from_both_sides_all_arrive(
    peers: tuple[SynapseClient, TransomPeer], direction: str
) -> None:
    """Many PDUs at once from both servers ("Transactions": several PDUs per transaction,
    forks merged by later events): every message reaches both servers."""
    host, guest = host_and_guest(direction, peers)
    _, alice_token = await host.register("alice")
    _, bob_token = await guest.register("bob")
    room_id = await create_room(host, alice_token, preset="public_chat", room_version="10")
    status, answer = await join(guest, bob_token, room_id, via=[host.server_name])
    assert status == 200, answer
    host_texts = [f"h{n}" for n in range(20)]
    guest_texts = [f"g{n}" for n in range(20)]
    await asyncio.gather(
        *(send_text(host, alice_token, room_id, t) for t in host_texts),
        *(send_text(guest, bob_token, room_id, t) for t in guest_texts),
    )
    everything = host_texts + guest_texts
    await eventually(
        lambda: has_bodies(host, alice_token, room_id, everything), "all messages on the host"
    )
    await eventually(
        lambda: has_bodies(guest, bob_token, room_id, everything), "all messages on the guest"
    )
