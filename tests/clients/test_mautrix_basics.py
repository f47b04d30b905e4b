"""mautrix-python (``Client``, which deserialises every response into its typed attrs classes and
raises on error statuses) against a running Transom: login flows and password login, rooms with
aliases and directory visibility, messages and state, members, history (/messages, /context),
profiles, account data and room tags, push rules, filters, receipts and read markers, typing,
redaction, invite/kick/ban/unban, and /sync events dispatched to typed handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from mautrix.api import HTTPAPI
from mautrix.client import Client
from mautrix.errors import MForbidden, MNotFound
from mautrix.types import (
    EventType,
    Filter,
    LoginType,
    MatrixUserIdentifier,
    Membership,
    MessageEvent,
    PaginationDirection,
    PushActionType,
    PushRuleKind,
    PushRuleScope,
    RoomCreatePreset,
    RoomDirectoryVisibility,
    RoomFilter,
    RoomNameStateEventContent,
    RoomTagInfo,
    StateEvent,
    StateFilter,
)

ServerHandle = Any


@pytest.fixture
async def clients(server: ServerHandle) -> AsyncIterator[tuple[Client, Client]]:
    """Two mautrix clients; both log in with a password through mautrix itself."""
    made: list[Client] = []
    for name in ("alice", "bob"):
        await server.register(name, password=f"{name}-pw")
        client = Client(api=HTTPAPI(base_url=server.base_url))
        flows = await client.get_login_flows()
        assert flows.supports_type(LoginType.PASSWORD)
        await client.login(
            identifier=MatrixUserIdentifier(user=name),
            password=f"{name}-pw",
            device_name="mautrix test",
        )
        assert client.mxid == f"@{name}:test.local" and client.device_id
        made.append(client)
    try:
        yield made[0], made[1]
    finally:
        for client in made:
            await client.api.session.close()


async def test_account_profile_and_settings(clients: tuple[Client, Client]) -> None:
    alice, bob = clients
    versions = await alice.versions()
    assert versions.supports("v1.1") or versions.latest_version
    who = await bob.whoami()
    assert who.user_id == bob.mxid and who.device_id == bob.device_id
    await alice.set_displayname("Alice M.")
    assert await bob.get_displayname(alice.mxid) == "Alice M."
    profile = await bob.get_profile(alice.mxid)
    assert profile.displayname == "Alice M."
    with pytest.raises(MNotFound):
        await bob.get_profile("@nobody:test.local")

    await alice.set_account_data("org.example.settings", {"theme": "dark"})
    assert await alice.get_account_data("org.example.settings") == {"theme": "dark"}
    filter_id = await alice.create_filter(
        Filter(room=RoomFilter(state=StateFilter(types=["m.room.name"]), include_leave=True))
    )
    stored = await alice.get_filter(filter_id)
    assert stored.room is not None and stored.room.include_leave is True

    await alice.set_push_rule(
        PushRuleScope.GLOBAL, PushRuleKind.CONTENT, "cake",
        [PushActionType.NOTIFY], pattern="cake",
    )  # fmt: skip
    rule = await alice.get_push_rule(PushRuleScope.GLOBAL, PushRuleKind.CONTENT, "cake")
    assert rule.pattern == "cake" and rule.enabled
    await alice.remove_push_rule(PushRuleScope.GLOBAL, PushRuleKind.CONTENT, "cake")
    with pytest.raises(MNotFound):
        await alice.get_push_rule(PushRuleScope.GLOBAL, PushRuleKind.CONTENT, "cake")


async def test_rooms_history_membership_and_sync(clients: tuple[Client, Client]) -> None:
    alice, bob = clients
    room_id = await alice.create_room(
        alias_localpart="mautrixroom",
        visibility=RoomDirectoryVisibility.PUBLIC,
        preset=RoomCreatePreset.PUBLIC,
        name="mautrix room",
        topic="typed",
    )
    info = await bob.resolve_room_alias("#mautrixroom:test.local")
    assert info.room_id == room_id and "test.local" in info.servers
    await alice.add_room_alias(room_id, "second")
    assert (await bob.resolve_room_alias("#second:test.local")).room_id == room_id
    assert await bob.get_room_directory_visibility(room_id) == RoomDirectoryVisibility.PUBLIC
    directory = await bob.get_room_directory(limit=10)
    entry = next(c for c in directory.chunk if c.room_id == room_id)
    assert entry.name == "mautrix room" and entry.num_joined_members == 1

    assert await bob.join_room("#mautrixroom:test.local") == room_id
    first = await bob.sync(timeout=0)
    since = first["next_batch"]

    event_ids = [await alice.send_text(room_id, f"line {i}") for i in range(3)]
    await alice.send_state_event(
        room_id, EventType.ROOM_NAME, RoomNameStateEventContent(name="renamed")
    )
    await alice.set_typing(room_id, timeout=5000)
    await bob.send_receipt(room_id, event_ids[-1])
    await bob.set_fully_read_marker(room_id, event_ids[-1], event_ids[-1])
    await bob.set_room_tag(room_id, "m.favourite", RoomTagInfo(order=0.5))
    assert "m.favourite" in (await bob.get_room_tags(room_id)).tags

    # Incremental /sync, dispatched through mautrix's typed event handlers.
    messages: list[MessageEvent] = []
    names: list[StateEvent] = []

    async def on_message(evt: MessageEvent) -> None:
        messages.append(evt)

    async def on_name(evt: StateEvent) -> None:
        names.append(evt)

    bob.add_event_handler(EventType.ROOM_MESSAGE, on_message, wait_sync=True)
    bob.add_event_handler(EventType.ROOM_NAME, on_name, wait_sync=True)
    data = await bob.sync(since=since, timeout=0)
    for task in bob.handle_sync(data):
        await task
    assert [m.content.body for m in messages] == ["line 0", "line 1", "line 2"]
    assert all(m.room_id == room_id and m.sender == alice.mxid for m in messages)
    assert [n.content.name for n in names] == ["renamed"]
    ephemeral = data["rooms"]["join"][room_id]["ephemeral"]["events"]
    assert "m.typing" in {e["type"] for e in ephemeral}

    page = await bob.get_messages(room_id, PaginationDirection.BACKWARD, limit=2)
    # Newest first: the rename, then the last message.
    assert [str(e.type) for e in page.events] == ["m.room.name", "m.room.message"]
    assert page.events[1].event_id == event_ids[2]
    assert page.end
    older = await bob.get_messages(room_id, PaginationDirection.BACKWARD, page.end, limit=1)
    assert [e.event_id for e in older.events] == [event_ids[1]]
    context = await bob.get_event_context(room_id, event_ids[1], limit=2)
    assert context.event.event_id == event_ids[1]
    assert [e.event_id for e in context.events_before] == [event_ids[0]]
    assert [e.event_id for e in context.events_after] == [event_ids[2]]
    fetched = await bob.get_event(room_id, event_ids[0])
    assert isinstance(fetched, MessageEvent) and fetched.content.body == "line 0"

    state = await bob.get_state(room_id)
    assert {"m.room.create", "m.room.power_levels"} <= {str(e.type) for e in state}
    name = await bob.get_state_event(room_id, EventType.ROOM_NAME)
    assert name.name == "renamed"
    joined = await alice.get_joined_members(room_id)
    assert set(joined) == {alice.mxid, bob.mxid}
    members = await alice.get_members(room_id, membership=Membership.JOIN)
    assert {m.state_key for m in members} == {alice.mxid, bob.mxid}
    assert await bob.get_joined_rooms() == [room_id]

    redaction = await alice.redact(room_id, event_ids[0], reason="oops")
    assert redaction.startswith("$")
    assert (await bob.get_event(room_id, event_ids[0])).content.serialize() == {}

    await alice.kick_user(room_id, bob.mxid, reason="out")
    with pytest.raises(MForbidden):
        await bob.send_text(room_id, "still here?")
    await alice.ban_user(room_id, bob.mxid, reason="really out")
    banned = await alice.get_members(room_id, membership=Membership.BAN)
    assert [m.state_key for m in banned] == [bob.mxid]
    await alice.unban_user(room_id, bob.mxid)
    await alice.invite_user(room_id, bob.mxid)
    assert await bob.join_room(room_id) == room_id
    await bob.leave_room(room_id)
    await bob.forget_room(room_id)
    assert await bob.get_joined_rooms() == []
