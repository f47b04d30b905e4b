"""The knock lifecycle driven by real client libraries against a running Transom: matrix-nio
(``AsyncClient.room_knock``, ``join``) and mautrix-python (``knock_room``, which sends the older
``server_name`` query parameter; ``get_members``; ``join_room``). The knocker knocks with a reason,
the moderator sees the knock and accepts it with an invite, the knocker joins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from mautrix.api import HTTPAPI
from mautrix.client import ClientAPI
from mautrix.types import EventType, JoinRule, JoinRulesStateEventContent, Membership
from nio import AsyncClient, JoinResponse, RoomKnockResponse, RoomPutStateResponse

ServerHandle = Any


@pytest.fixture
async def nio_clients(server: ServerHandle) -> AsyncIterator[tuple[AsyncClient, AsyncClient]]:
    clients = []
    for name in ("alice", "bob"):
        user_id, token, device_id = await server.register(name)
        client = AsyncClient(server.base_url, user_id, device_id=device_id)
        client.access_token = token
        client.user_id = user_id
        clients.append(client)
    yield clients[0], clients[1]
    for client in clients:
        await client.close()


@pytest.mark.parametrize("version", ["7", "10", "12"])
async def test_nio_knock_lifecycle(
    server: ServerHandle, nio_clients: tuple[AsyncClient, AsyncClient], version: str
) -> None:
    alice, bob = nio_clients
    created = await alice.room_create(room_version=version)
    room_id = created.room_id
    enabled = await alice.room_enable_knocking(room_id)
    assert isinstance(enabled, RoomPutStateResponse), enabled

    knocked = await bob.room_knock(room_id, reason="nio says hi")
    assert isinstance(knocked, RoomKnockResponse), knocked
    assert knocked.room_id == room_id

    state = await alice.room_get_state(room_id)
    member = next(
        e for e in state.events if e["type"] == "m.room.member" and e["state_key"] == bob.user_id
    )
    assert member["content"]["membership"] == "knock"
    assert member["content"]["reason"] == "nio says hi"

    assert (await alice.room_invite(room_id, bob.user_id)).__class__.__name__ == (
        "RoomInviteResponse"
    )
    joined = await bob.join(room_id)
    assert isinstance(joined, JoinResponse), joined
    state = await alice.room_get_state(room_id)
    member = next(
        e for e in state.events if e["type"] == "m.room.member" and e["state_key"] == bob.user_id
    )
    assert member["content"]["membership"] == "join"


@pytest.mark.parametrize("version", ["7", "10", "12"])
async def test_mautrix_knock_lifecycle(server: ServerHandle, version: str) -> None:
    apis: list[ClientAPI] = []
    for name in ("alice", "bob"):
        user_id, token, device_id = await server.register(name)
        http = HTTPAPI(base_url=server.base_url, token=token)
        apis.append(ClientAPI(user_id, device_id, api=http))
    alice, bob = apis
    try:
        rule = JoinRule.KNOCK_RESTRICTED if version != "7" else JoinRule.KNOCK
        room_id = await alice.create_room(room_version=version)
        await alice.send_state_event(
            room_id, EventType.ROOM_JOIN_RULES, JoinRulesStateEventContent(join_rule=rule)
        )
        knocked = await bob.knock_room(
            room_id, reason="mautrix says hi", servers=[server.server_name]
        )
        assert knocked == room_id

        knocks = await alice.get_members(room_id, membership=Membership.KNOCK)
        assert [(m.state_key, m.content.reason) for m in knocks] == [(bob.mxid, "mautrix says hi")]
        await alice.invite_user(room_id, bob.mxid)
        assert await bob.join_room(room_id) == room_id
        joined = await alice.get_joined_members(room_id)
        assert bob.mxid in joined
    finally:
        for api in apis:
            await api.api.session.close()
