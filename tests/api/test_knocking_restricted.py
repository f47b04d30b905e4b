"""``restricted`` (v8+) and ``knock_restricted`` (v10+) rooms: joining through an ``allow``
condition with a local authoriser, the refusals (403 ``M_FORBIDDEN``, 400
``M_UNABLE_TO_GRANT_JOIN``), and knocking on ``knock_restricted`` rooms."""

from __future__ import annotations

from typing import Any

import pytest
from test_knocking import V3, create_room, knock, member_event, membership, post, state_snapshot

ServerHandle = Any


async def _rooms(server: ServerHandle, version: str, rule: str) -> tuple[str, str, str]:
    """alice's public 'space' room and a restricted room allowing its members."""
    _, a_tok, _ = await server.register("alice")
    space = await create_room(server, a_tok, version, "public")
    room_id = await create_room(server, a_tok, version, rule, allow=[space])
    return a_tok, space, room_id


CASES = [("8", "restricted"), ("10", "restricted"), ("10", "knock_restricted"),
         ("12", "restricted"), ("12", "knock_restricted")]  # fmt: skip


@pytest.mark.parametrize(("version", "rule"), CASES)
async def test_join_through_allow_rule(server: ServerHandle, version: str, rule: str) -> None:
    alice = f"@alice:{server.server_name}"
    a_tok, space, room_id = await _rooms(server, version, rule)
    bob, b_tok, _ = await server.register("bob")
    assert (await post(server, b_tok, space, "join"))[0] == 200
    status, body = await server.request("POST", f"{V3}/join/{room_id}", b_tok, json={})
    assert (status, body) == (200, {"room_id": room_id})
    event = await member_event(server, a_tok, room_id, bob)
    assert event is not None and event["content"]["membership"] == "join"
    assert event["content"]["join_authorised_via_users_server"] == alice


@pytest.mark.parametrize(("version", "rule"), CASES)
async def test_join_without_meeting_a_condition(
    server: ServerHandle, version: str, rule: str
) -> None:
    a_tok, _, room_id = await _rooms(server, version, rule)
    bob, b_tok, _ = await server.register("bob")
    before = await state_snapshot(server, a_tok, room_id)
    status, body = await post(server, b_tok, room_id, "join")
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    assert "conditions" in body["error"]
    assert await state_snapshot(server, a_tok, room_id) == before
    # Anyone may knock on knock_restricted rooms; not on restricted ones.
    status, body = await knock(server, b_tok, room_id, "hi")
    assert status == (200 if rule == "knock_restricted" else 403), body
    assert await membership(server, a_tok, room_id, bob) == (
        "knock" if rule == "knock_restricted" else None
    )


@pytest.mark.parametrize("version", ["10", "12"])
async def test_knocker_meeting_condition_joins_directly(server: ServerHandle, version: str) -> None:
    a_tok, space, room_id = await _rooms(server, version, "knock_restricted")
    bob, b_tok, _ = await server.register("bob")
    assert (await knock(server, b_tok, room_id, "hi"))[0] == 200
    assert (await post(server, b_tok, space, "join"))[0] == 200
    assert (await post(server, b_tok, room_id, "join"))[0] == 200
    assert await membership(server, a_tok, room_id, bob) == "join"


@pytest.mark.parametrize("version", ["8", "12"])
async def test_no_local_authoriser(server: ServerHandle, version: str) -> None:
    """The user qualifies but no joined local user can invite: 400 M_UNABLE_TO_GRANT_JOIN."""
    _, a_tok, _ = await server.register("alice")
    carol, c_tok, _ = await server.register("carol")
    _, b_tok, _ = await server.register("bob")
    space = await create_room(server, a_tok, version, "public")
    room_id = await create_room(
        server, a_tok, version, "restricted", allow=[space],
        power_level_content_override={"invite": 50}, invite=[carol],
    )  # fmt: skip
    assert (await post(server, c_tok, room_id, "join"))[0] == 200
    assert (await post(server, a_tok, room_id, "leave"))[0] == 200
    assert (await post(server, b_tok, space, "join"))[0] == 200
    before = await state_snapshot(server, c_tok, room_id)
    status, body = await post(server, b_tok, room_id, "join")
    assert (status, body["errcode"]) == (400, "M_UNABLE_TO_GRANT_JOIN")
    assert await state_snapshot(server, c_tok, room_id) == before


async def test_invited_user_needs_no_condition(server: ServerHandle) -> None:
    a_tok, _, room_id = await _rooms(server, "10", "restricted")
    bob, b_tok, _ = await server.register("bob")
    assert (await post(server, a_tok, room_id, "invite", user_id=bob))[0] == 200
    assert (await post(server, b_tok, room_id, "join"))[0] == 200
    event = await member_event(server, a_tok, room_id, bob)
    assert event is not None and "join_authorised_via_users_server" not in event["content"]


async def test_authoriser_is_the_most_powerful_local_member(server: ServerHandle) -> None:
    """Several joined users can invite: the highest level is chosen, deterministically."""
    _, a_tok, _ = await server.register("alice")
    zed, z_tok, _ = await server.register("zed")
    space = await create_room(server, a_tok, "10", "public")
    room_id = await create_room(
        server, a_tok, "10", "restricted", allow=[space], invite=[zed],
    )  # fmt: skip
    assert (await post(server, z_tok, room_id, "join"))[0] == 200
    path = f"{V3}/rooms/{room_id}/state/m.room.power_levels"
    status, levels = await server.request("GET", path, a_tok)
    assert status == 200, levels
    levels["users"] = {**levels["users"], zed: 100, f"@alice:{server.server_name}": 100}
    assert (await server.request("PUT", path, a_tok, json=levels))[0] == 200
    # alice then lowers her own level below zed's.
    levels["users"][f"@alice:{server.server_name}"] = 60
    assert (await server.request("PUT", path, a_tok, json=levels))[0] == 200
    bob, b_tok, _ = await server.register("bob")
    assert (await post(server, b_tok, space, "join"))[0] == 200
    assert (await post(server, b_tok, room_id, "join"))[0] == 200
    event = await member_event(server, a_tok, room_id, bob)
    assert event is not None and event["content"]["join_authorised_via_users_server"] == zed


def test_allowed_room_ids_skips_malformed_and_unknown_conditions() -> None:
    from transom.services.rooms.restricted import allowed_room_ids

    content = {
        "join_rule": "restricted",
        "allow": [
            {"type": "m.room_membership", "room_id": "!a:x"},
            {"type": "m.room_membership"},
            {"type": "org.example.unknown", "room_id": "!b:x"},
            "not an object",
            {"type": "m.room_membership", "room_id": 7},
            {"type": "m.room_membership", "room_id": "!a:x"},
            {"type": "m.room_membership", "room_id": "!c:x"},
        ],
    }
    assert allowed_room_ids(content) == ["!a:x", "!c:x"]
    assert allowed_room_ids({"join_rule": "restricted", "allow": "nope"}) == []
    assert allowed_room_ids({"join_rule": "restricted"}) == []
