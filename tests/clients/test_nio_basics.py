"""matrix-nio (``AsyncClient``, which validates every response against its own JSON schemas)
against a running Transom: registration and login, rooms and aliases, messages, state, members,
history (/messages, /context), profiles, typing, receipts, redaction, the public directory,
filters, /sync (initial and incremental) and leaving. Each call must yield nio's success
response type, not an error response."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinedMembersResponse,
    JoinedRoomsResponse,
    JoinResponse,
    LoginInfoResponse,
    LoginResponse,
    ProfileGetResponse,
    ReceiptEvent,
    RedactedEvent,
    RegisterResponse,
    RoomContextResponse,
    RoomCreateResponse,
    RoomForgetResponse,
    RoomGetEventResponse,
    RoomGetStateEventResponse,
    RoomGetStateResponse,
    RoomGetVisibilityResponse,
    RoomKickResponse,
    RoomLeaveResponse,
    RoomMessagesResponse,
    RoomMessageText,
    RoomPutAliasResponse,
    RoomReadMarkersResponse,
    RoomRedactResponse,
    RoomResolveAliasResponse,
    RoomSendResponse,
    RoomTypingResponse,
    RoomVisibility,
    SyncResponse,
    UploadFilterResponse,
    WhoamiResponse,
)
from nio.api import RoomPreset
from nio.responses import PublicRoomsResponse

ServerHandle = Any
PASSWORD = "nio-password"


def _config() -> AsyncClientConfig:
    return AsyncClientConfig(encryption_enabled=False, store_sync_tokens=False)


@pytest.fixture
async def reg_server(make_server: Any) -> ServerHandle:
    return await make_server(
        enable_registration=True, enable_registration_without_verification=True
    )


@pytest.fixture
async def clients(reg_server: ServerHandle) -> AsyncIterator[tuple[AsyncClient, AsyncClient]]:
    """alice registers through nio (m.login.dummy); bob registers, then logs in by password."""
    alice = AsyncClient(reg_server.base_url, config=_config())
    bob = AsyncClient(reg_server.base_url, config=_config())
    try:
        registered = await alice.register("alice", PASSWORD, device_name="nio test")
        assert isinstance(registered, RegisterResponse), registered
        assert alice.user_id == "@alice:test.local" and alice.access_token
        assert isinstance(await bob.register("bob", PASSWORD), RegisterResponse)
        await bob.logout()
        bob.user = "bob"
        info = await bob.login_info()
        assert isinstance(info, LoginInfoResponse), info
        assert "m.login.password" in info.flows
        login = await bob.login(PASSWORD, device_name="second")
        assert isinstance(login, LoginResponse), login
        assert login.user_id == "@bob:test.local"
        yield alice, bob
    finally:
        await alice.close()
        await bob.close()


async def test_account_and_profile(clients: tuple[AsyncClient, AsyncClient]) -> None:
    alice, bob = clients
    who = await bob.whoami()
    assert isinstance(who, WhoamiResponse), who
    assert who.user_id == bob.user_id and who.device_id == bob.device_id
    await alice.set_displayname("Alice A.")
    profile = await bob.get_profile(alice.user_id)
    assert isinstance(profile, ProfileGetResponse), profile
    assert profile.displayname == "Alice A."
    assert (await bob.get_displayname(alice.user_id)).displayname == "Alice A."
    filt = await alice.upload_filter(room={"timeline": {"limit": 5}})
    assert isinstance(filt, UploadFilterResponse), filt
    assert filt.filter_id


async def test_room_lifecycle_history_and_sync(clients: tuple[AsyncClient, AsyncClient]) -> None:
    alice, bob = clients
    created = await alice.room_create(
        visibility=RoomVisibility.public,
        alias="nioroom",
        name="nio room",
        topic="talk",
        preset=RoomPreset.public_chat,
    )
    assert isinstance(created, RoomCreateResponse), created
    room_id = created.room_id
    resolved = await bob.room_resolve_alias("#nioroom:test.local")
    assert isinstance(resolved, RoomResolveAliasResponse), resolved
    assert resolved.room_id == room_id and "test.local" in resolved.servers
    put_alias = await alice.room_put_alias("#other:test.local", room_id)
    assert isinstance(put_alias, RoomPutAliasResponse), put_alias
    visibility = await alice.room_get_visibility(room_id)
    assert isinstance(visibility, RoomGetVisibilityResponse), visibility
    assert visibility.visibility == "public"
    public = await bob.list_public_rooms()
    assert isinstance(public, PublicRoomsResponse), public
    assert room_id in [r.room_id for r in public.public_rooms]

    joined = await bob.join("#nioroom:test.local")
    assert isinstance(joined, JoinResponse), joined
    first = await bob.sync(timeout=0, full_state=True)
    assert isinstance(first, SyncResponse), first
    assert room_id in first.rooms.join
    assert bob.rooms[room_id].display_name == "nio room"
    assert bob.rooms[room_id].topic == "talk"

    sent: list[str] = []
    for i in range(4):
        resp = await alice.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": f"hello {i}"}
        )
        assert isinstance(resp, RoomSendResponse), resp
        sent.append(resp.event_id)
    typing = await alice.room_typing(room_id, True, timeout=10000)
    assert isinstance(typing, RoomTypingResponse), typing

    later = await bob.sync(timeout=0, since=first.next_batch)
    assert isinstance(later, SyncResponse), later
    room = later.rooms.join[room_id]
    bodies = [e.body for e in room.timeline.events if isinstance(e, RoomMessageText)]
    assert bodies == [f"hello {i}" for i in range(4)]
    assert alice.user_id in bob.rooms[room_id].typing_users

    # A filtered initial sync: lazy-loaded members and a short, limited timeline whose
    # prev_batch continues into /messages.
    # (A fresh client: nio otherwise continues from its last next_batch.)
    fresh = AsyncClient(bob.homeserver, bob.user_id, device_id=bob.device_id, config=_config())
    fresh.access_token = bob.access_token
    try:
        lazy = await fresh.sync(
            timeout=0,
            sync_filter={"room": {"state": {"lazy_load_members": True}, "timeline": {"limit": 2}}},
        )
    finally:
        await fresh.close()
    assert isinstance(lazy, SyncResponse), lazy
    timeline = lazy.rooms.join[room_id].timeline
    assert timeline.limited and [e.body for e in timeline.events] == ["hello 2", "hello 3"]
    earlier = await bob.room_messages(room_id, start=timeline.prev_batch, limit=1)
    assert isinstance(earlier, RoomMessagesResponse), earlier
    assert [e.body for e in earlier.chunk] == ["hello 1"]

    markers = await bob.room_read_markers(room_id, sent[-1], sent[-1])
    assert isinstance(markers, RoomReadMarkersResponse), markers
    receipts = await alice.sync(timeout=0, full_state=True)
    assert isinstance(receipts, SyncResponse), receipts
    seen = [
        (r.user_id, r.event_id, r.receipt_type)
        for e in receipts.rooms.join[room_id].ephemeral
        if isinstance(e, ReceiptEvent)
        for r in e.receipts
    ]
    assert (bob.user_id, sent[-1], "m.read") in seen

    messages = await bob.room_messages(room_id, start="", limit=3)
    assert isinstance(messages, RoomMessagesResponse), messages
    assert [e.body for e in messages.chunk] == ["hello 3", "hello 2", "hello 1"]
    more = await bob.room_messages(room_id, start=messages.end, limit=3)
    assert isinstance(more, RoomMessagesResponse), more
    assert more.chunk[0].body == "hello 0"
    context = await bob.room_context(room_id, sent[1], limit=2)
    assert isinstance(context, RoomContextResponse), context
    assert context.event.event_id == sent[1]
    assert [e.event_id for e in context.events_after] == [sent[2]]
    assert [e.event_id for e in context.events_before] == [sent[0]]
    event = await bob.room_get_event(room_id, sent[0])
    assert isinstance(event, RoomGetEventResponse), event
    assert isinstance(event.event, RoomMessageText) and event.event.body == "hello 0"

    state = await bob.room_get_state(room_id)
    assert isinstance(state, RoomGetStateResponse), state
    assert {"m.room.create", "m.room.name", "m.room.topic"} <= {e["type"] for e in state.events}
    name = await bob.room_get_state_event(room_id, "m.room.name")
    assert isinstance(name, RoomGetStateEventResponse), name
    assert name.content == {"name": "nio room"}
    members = await alice.joined_members(room_id)
    assert isinstance(members, JoinedMembersResponse), members
    assert {m.user_id for m in members.members} == {alice.user_id, bob.user_id}
    rooms = await bob.joined_rooms()
    assert isinstance(rooms, JoinedRoomsResponse), rooms
    assert rooms.rooms == [room_id]

    redacted = await alice.room_redact(room_id, sent[0], reason="typo")
    assert isinstance(redacted, RoomRedactResponse), redacted
    after_redact = await bob.room_get_event(room_id, sent[0])
    assert isinstance(after_redact, RoomGetEventResponse), after_redact
    assert isinstance(after_redact.event, RedactedEvent)

    kicked = await alice.room_kick(room_id, bob.user_id, reason="bye")
    assert isinstance(kicked, RoomKickResponse), kicked
    final = await bob.sync(timeout=0, since=later.next_batch)
    assert isinstance(final, SyncResponse), final
    assert room_id in final.rooms.leave
    assert isinstance(await bob.room_forget(room_id), RoomForgetResponse)
    assert (await bob.joined_rooms()).rooms == []
    assert isinstance(await alice.room_leave(room_id), RoomLeaveResponse)
    assert (await alice.joined_rooms()).rooms == []
