"""Receiving PDUs over /send: the receipt checks in spec order, rejection, soft failure.

Spec: server-server API "Transactions", "Checks performed on receipt of a PDU", "Rejection",
"Soft failure". A Transom receives transactions from a ``FakeRemoteServer`` whose user joins a
public room of the Transom.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from transom.core.events import Event

from .fake_remote import FakeRemoteServer


@dataclass
class Room:
    server: Any
    remote: FakeRemoteServer
    room_id: str
    alice: str
    token: str
    bob: str
    bob_join: Event


@pytest.fixture
async def remote(tmp_path: Path) -> AsyncIterator[FakeRemoteServer]:
    fake = await FakeRemoteServer().start(tmp_path / "fake")
    yield fake
    await fake.stop()


async def make_room(server: Any, remote: FakeRemoteServer) -> Room:
    alice, token, _ = await server.register("alice")
    status, body = await server.request(
        "POST", "/_matrix/client/v3/createRoom", token, json={"preset": "public_chat"}
    )
    assert status == 200, body
    room_id = body["room_id"]
    bob = remote.user("bob")
    join = await remote.make_event_from_state(
        server.hs, room_id, bob, "m.room.member", {"membership": "join"}, bob
    )
    status, body = await remote.send_transaction(server, [join])
    assert status == 200 and body["pdus"] == {join.event_id: {}}, body
    return Room(server, remote, room_id, alice, token, bob, join)


@pytest.fixture
async def room(make_fed_server: Any, remote: FakeRemoteServer) -> Room:
    return await make_room(await make_fed_server(), remote)


async def client_event(room: Room, event_id: str) -> tuple[int, Any]:
    path = f"/_matrix/client/v3/rooms/{quote(room.room_id)}/event/{quote(event_id, safe='')}"
    status, body = await room.server.request("GET", path, room.token)
    return status, body


async def timeline_ids(room: Room) -> list[str]:
    status, body = await room.server.request(
        "GET", f"/_matrix/client/v3/rooms/{quote(room.room_id)}/messages", room.token,
        params={"dir": "b", "limit": "50"},
    )  # fmt: skip
    assert status == 200, body
    return [e["event_id"] for e in body["chunk"]]


async def message(room: Room, body: str, **kwargs: Any) -> Event:
    return await room.remote.make_event_from_state(
        room.server.hs, room.room_id, kwargs.pop("sender", room.bob), "m.room.message",
        {"msgtype": "m.text", "body": body}, **kwargs,
    )  # fmt: skip


async def test_remote_join_and_message_are_visible_to_local_clients(room: Room) -> None:
    status, members = await room.server.request(
        "GET", f"/_matrix/client/v3/rooms/{quote(room.room_id)}/joined_members", room.token
    )
    assert status == 200 and room.bob in members["joined"], members
    msg = await message(room, "hello from afar")
    status, body = await room.remote.send_transaction(room.server, [msg])
    assert status == 200 and body["pdus"] == {msg.event_id: {}}
    status, event = await client_event(room, msg.event_id)
    assert status == 200 and event["content"]["body"] == "hello from afar"
    assert msg.event_id in await timeline_ids(room)
    extremities = await room.server.hs.rooms.events.get_forward_extremities(room.room_id)
    assert extremities == [msg.event_id]
    # The same PDU again is accepted without a second copy.
    status, body = await room.remote.send_transaction(room.server, [msg])
    assert body["pdus"] == {msg.event_id: {}}


async def test_bad_signature_is_dropped(room: Room) -> None:
    msg = await message(room, "forged")
    pdu = copy.deepcopy(msg.pdu)
    sig = pdu["signatures"][room.remote.server_name][room.remote.key_id]
    pdu["signatures"][room.remote.server_name][room.remote.key_id] = "A" * 10 + sig[10:]
    status, body = await room.remote.send_transaction(room.server, [pdu])
    assert status == 200 and "error" in body["pdus"][msg.event_id], body
    assert await room.server.hs.rooms.events.get_stored([msg.event_id]) == {}
    status, _ = await client_event(room, msg.event_id)
    assert status == 404


async def test_event_signed_by_another_server_than_the_sender_is_dropped(room: Room) -> None:
    # Claiming a sender of the Transom itself: the Transom's signature is required.
    msg = await message(room, "impersonation", sender=room.alice)
    _, body = await room.remote.send_transaction(room.server, [msg])
    assert "error" in body["pdus"][msg.event_id]
    assert await room.server.hs.rooms.events.get_stored([msg.event_id]) == {}


async def test_wrong_content_hash_stores_and_serves_the_redacted_form(room: Room) -> None:
    msg = await message(room, "original")
    pdu = copy.deepcopy(msg.pdu)
    # The signature covers the redacted form only, so it still verifies; the hash does not.
    pdu["content"]["body"] = "tampered"
    status, body = await room.remote.send_transaction(room.server, [pdu])
    assert body["pdus"] == {msg.event_id: {}}, body
    stored = (await room.server.hs.rooms.events.get_stored([msg.event_id]))[msg.event_id]
    assert stored.event.content == {} and stored.rejected_reason is None
    status, event = await client_event(room, msg.event_id)
    assert status == 200 and event["content"] == {}


async def test_event_failing_auth_is_rejected_and_never_used_as_auth(room: Room) -> None:
    hs = room.server.hs
    state = await hs.rooms.state.get_current_state_ids(room.room_id)
    power = await hs.rooms.events.get_event(state[("m.room.power_levels", "")])
    assert power is not None
    content = copy.deepcopy(dict(power.content))
    content["users"][room.bob] = 100
    grab = await room.remote.make_event_from_state(
        hs, room.room_id, room.bob, "m.room.power_levels", content, ""
    )
    status, body = await room.remote.send_transaction(room.server, [grab])
    assert status == 200 and "error" in body["pdus"][grab.event_id]
    stored = (await hs.rooms.events.get_stored([grab.event_id]))[grab.event_id]
    assert stored.rejected_reason is not None
    assert (await hs.rooms.state.get_current_state_ids(room.room_id)) == state
    assert (await client_event(room, grab.event_id))[0] == 404
    assert grab.event_id not in await timeline_ids(room)
    # A later event citing the rejected power levels as an auth event is rejected too.
    name_state = {**state, ("m.room.power_levels", ""): grab.event_id}
    rename = await room.remote.make_event_from_state(
        hs, room.room_id, room.bob, "m.room.name", {"name": "mine"}, "", state=name_state
    )
    status, body = await room.remote.send_transaction(room.server, [rename])
    assert "error" in body["pdus"][rename.event_id]
    assert "rejected" in body["pdus"][rename.event_id]["error"]
    assert ("m.room.name", "") not in await hs.rooms.state.get_current_state_ids(room.room_id)


async def test_non_member_sender_is_rejected(room: Room) -> None:
    carol = room.remote.user("carol")
    msg = await message(room, "I never joined", sender=carol)
    _, body = await room.remote.send_transaction(room.server, [msg])
    assert "error" in body["pdus"][msg.event_id]
    assert msg.event_id not in await timeline_ids(room)


async def test_oversized_event_is_refused_at_format(room: Room) -> None:
    big = await message(room, "small enough to build")
    pdu = copy.deepcopy(big.pdu)
    pdu["content"]["body"] = "x" * 70_000  # step 1 comes before the hash and signature checks
    status, body = await room.remote.send_transaction(room.server, [pdu])
    assert status == 200 and "65536" in body["pdus"][big.event_id]["error"]
    assert await room.server.hs.rooms.events.get_stored([big.event_id]) == {}


async def test_unknown_room_is_a_per_pdu_error(room: Room) -> None:
    msg = await message(room, "elsewhere")
    pdu = {**msg.pdu, "room_id": "!nowhere:" + room.remote.server_name}
    ok = await message(room, "here")
    status, body = await room.remote.send_transaction(room.server, [pdu, ok])
    assert status == 200
    errors = [v for v in body["pdus"].values() if "error" in v]
    assert len(errors) == 1 and "Unknown room" in errors[0]["error"]
    assert body["pdus"][ok.event_id] == {}


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"pdus": {}},
        {"pdus": [], "edus": "x"},
        {"pdus": [{}] * 51},
        {"pdus": [], "edus": [{}] * 101},
    ],
)
async def test_malformed_transactions_are_400(room: Room, body: Any) -> None:
    status, answer = await room.remote.request(
        room.server, "PUT", "/_matrix/federation/v1/send/bad1", body
    )
    assert status == 400, answer


async def test_non_json_transaction_is_refused(room: Room) -> None:
    status, _ = await room.remote.request(
        room.server, "PUT", "/_matrix/federation/v1/send/bad2", raw_body=b"not json"
    )
    # Not JSON cannot carry a valid X-Matrix signature over its content: 401 before parsing.
    assert status in (400, 401)


def typing_edu(room_id: str, user_id: str) -> dict[str, Any]:
    content = {"room_id": room_id, "user_id": user_id, "typing": True}
    return {"edu_type": "m.typing", "content": content}


async def test_server_acl_denies_the_origins_pdus_and_edus(room: Room) -> None:
    status, _ = await room.server.request(
        "PUT",
        f"/_matrix/client/v3/rooms/{quote(room.room_id)}/state/m.room.server_acl",
        room.token,
        json={"allow": ["*"], "deny": ["127.0.0.1"], "allow_ip_literals": True},
    )
    assert status == 200
    msg = await message(room, "denied")
    typing = typing_edu(room.room_id, room.bob)
    status, body = await room.remote.send_transaction(room.server, [msg], [typing])
    assert status == 200 and "ACL" in body["pdus"][msg.event_id]["error"]
    assert await room.server.hs.rooms.events.get_stored([msg.event_id]) == {}
    assert room.server.hs.typing.users_typing(room.room_id) == []


async def test_typing_and_receipt_edus(room: Room) -> None:
    typing = typing_edu(room.room_id, room.bob)
    spoofed = typing_edu(room.room_id, room.alice)
    read = {room.bob: {"event_ids": [room.bob_join.event_id], "data": {"ts": 1}}}
    receipt = {"edu_type": "m.receipt", "content": {room.room_id: {"m.read": read}}}
    unknown = {"edu_type": "org.example.unknown", "content": {}}
    status, _ = await room.remote.send_transaction(
        room.server, [], [typing, spoofed, receipt, unknown]
    )
    assert status == 200
    assert room.server.hs.typing.users_typing(room.room_id) == [room.bob]
    receipts = await room.server.hs.receipts.receipt_events(room.alice, [room.room_id], 0)
    read = receipts[room.room_id][room.bob_join.event_id]["m.read"]
    assert room.bob in read


async def test_retried_transaction_is_answered_from_the_first_run(room: Room) -> None:
    msg = await message(room, "once")
    first = await room.remote.send_transaction(room.server, [msg], txn_id="t1")
    again = await room.remote.send_transaction(room.server, [], txn_id="t1")
    assert first == again == (200, {"pdus": {msg.event_id: {}}})


async def test_ban_evasion_is_soft_failed(room: Room) -> None:
    hs = room.server.hs
    before_ban = await hs.rooms.state.get_current_state_ids(room.room_id)
    join = room.bob_join
    status, _ = await room.server.request(
        "POST", f"/_matrix/client/v3/rooms/{quote(room.room_id)}/ban", room.token,
        json={"user_id": room.bob},
    )  # fmt: skip
    assert status == 200
    # Bob's server pretends not to have seen the ban: prev_events and auth from before it.
    evading = await message(room, "you cannot ban me", prev_events=[join], state=before_ban)
    status, body = await room.remote.send_transaction(room.server, [evading])
    assert status == 200 and body["pdus"] == {evading.event_id: {}}
    stored = (await hs.rooms.events.get_stored([evading.event_id]))[evading.event_id]
    assert stored.rejected_reason is None
    assert evading.event_id not in await timeline_ids(room)
    assert evading.event_id not in await hs.rooms.events.get_forward_extremities(room.room_id)
    assert await hs.rooms.state.get_state_after(evading.event_id) is not None


async def test_missing_prev_events_are_fetched_with_get_missing_events(room: Room) -> None:
    hs = room.server.hs
    m1 = await message(room, "one")
    auth = await auth_of(room, m1)
    m2 = room.remote.make_event(
        m1.room_version, room.room_id, room.bob, "m.room.message", {"msgtype": "m.text",
        "body": "two"}, prev_events=[m1], auth_events=auth,
    )  # fmt: skip
    m3 = room.remote.make_event(
        m1.room_version, room.room_id, room.bob, "m.room.message", {"msgtype": "m.text",
        "body": "three"}, prev_events=[m2], auth_events=auth,
    )  # fmt: skip
    asked: list[Any] = []

    async def missing(request: Any) -> tuple[int, Any]:
        asked.append(request.body)
        return 200, {"events": [m1.pdu, m2.pdu]}

    room.remote.on("POST", "/get_missing_events/", missing)
    _, body = await room.remote.send_transaction(room.server, [m3])
    assert body["pdus"] == {m3.event_id: {}}, body
    assert asked and asked[0]["latest_events"] == [m3.event_id]
    assert asked[0]["earliest_events"] == [room.bob_join.event_id]
    timeline = await timeline_ids(room)
    assert {m1.event_id, m2.event_id, m3.event_id} <= set(timeline)
    assert await hs.rooms.events.get_forward_extremities(room.room_id) == [m3.event_id]


async def test_a_gap_too_large_falls_back_to_state_ids(room: Room) -> None:
    hs = room.server.hs
    state_at_join = await hs.rooms.state.get_current_state_ids(room.room_id)
    chain = [await message(room, "m1")]
    auth = await auth_of(room, chain[0])
    for n in range(2, 6):
        chain.append(room.remote.make_event(
            chain[0].room_version, room.room_id, room.bob, "m.room.message",
            {"msgtype": "m.text", "body": f"m{n}"}, prev_events=[chain[-1]],
            auth_events=auth,
        ))  # fmt: skip
    m3, m4, m5 = chain[2], chain[3], chain[4]

    async def missing(request: Any) -> tuple[int, Any]:
        return 200, {"events": [m4.pdu]}  # only the newest of the gap

    async def state_ids(request: Any) -> tuple[int, Any]:
        assert request.query["event_id"] == [m3.event_id]
        ids = sorted(state_at_join.values())
        return 200, {"pdu_ids": ids, "auth_chain_ids": ids}

    room.remote.on("POST", "/get_missing_events/", missing)
    room.remote.on("GET", "/state_ids/", state_ids)
    _, body = await room.remote.send_transaction(room.server, [m5])
    assert body["pdus"] == {m5.event_id: {}}, body
    assert room.remote.requests_to("/state_ids/")
    stored = await hs.rooms.events.get_stored([m3.event_id, m4.event_id, m5.event_id])
    assert stored[m3.event_id].outlier  # fetched with /event: its place in the DAG is unknown
    assert not stored[m4.event_id].outlier and not stored[m5.event_id].outlier
    timeline = await timeline_ids(room)
    assert m4.event_id in timeline and m5.event_id in timeline
    # The join stays an extremity: nothing we hold in the DAG follows it (m1, m2 are unknown).
    extremities = await hs.rooms.events.get_forward_extremities(room.room_id)
    assert sorted(extremities) == sorted([room.bob_join.event_id, m5.event_id])


async def auth_of(room: Room, event: Event) -> list[Event]:
    """The auth events of ``event``, read from the Transom under test."""
    found = await room.server.hs.rooms.events.get_events(event.auth_event_ids)
    return [found[i] for i in event.auth_event_ids]
