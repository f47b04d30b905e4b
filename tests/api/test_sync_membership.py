"""/sync sections as membership changes: invites (invite_state with m.room.create), knocks
(knock_state: stripped state with the knock last, nothing else of the room), leaves on kick
and ban, and rooms moving between sections on incremental syncs."""

from __future__ import annotations

from typing import Any

from test_sync import V3, bodies, create_room, do_sync, join, put_state, send

ServerHandle = Any

STRIPPED_KEYS = {"type", "state_key", "sender", "content"}


async def post(server: ServerHandle, token: str, path: str, body: dict[str, Any]) -> None:
    status, resp = await server.request("POST", f"{V3}{path}", token, json=body)
    assert status == 200, resp


async def knock_room(server: ServerHandle, token: str) -> str:
    room_id = await create_room(server, token, room_version="10", name="Knock here")
    await put_state(server, token, room_id, "m.room.join_rules", {"join_rule": "knock"})
    return room_id


async def knock(server: ServerHandle, token: str, user_id: str, room_id: str) -> None:
    await put_state(
        server, token, room_id, "m.room.member", {"membership": "knock", "reason": "hi"}, user_id
    )


async def test_invite_state_includes_create(server: ServerHandle) -> None:
    _, alice_token, _ = await server.register("alice")
    bob, bob_token, _ = await server.register("bob")
    room_id = await create_room(server, alice_token, name="Invite room")
    await send(server, alice_token, room_id, "secret")
    before = await do_sync(server, bob_token)
    await post(server, alice_token, f"/rooms/{room_id}/invite", {"user_id": bob})
    body = await do_sync(server, bob_token, before["next_batch"])
    events = body["rooms"]["invite"][room_id]["invite_state"]["events"]
    assert events[0]["type"] == "m.room.create"
    assert all(set(e) == STRIPPED_KEYS for e in events)
    assert {"m.room.name", "m.room.join_rules"} <= {e["type"] for e in events}
    assert events[-1]["type"] == "m.room.member" and events[-1]["state_key"] == bob
    assert events[-1]["content"]["membership"] == "invite"
    assert body["rooms"]["join"] == {}
    # The invite is reported once; joining moves the room to the join section.
    later = await do_sync(server, bob_token, body["next_batch"])
    assert later["rooms"]["invite"] == {}
    await join(server, bob_token, room_id)
    joined = await do_sync(server, bob_token, later["next_batch"])
    assert joined["rooms"]["invite"] == {}
    room = joined["rooms"]["join"][room_id]
    state_types = {e["type"] for e in room["state"]["events"]}
    timeline_types = {e["type"] for e in room["timeline"]["events"]}
    # A newly joined room comes with its full state.
    assert "m.room.create" in state_types | timeline_types
    assert "m.room.name" in state_types | timeline_types


async def test_knock_section_and_acceptance(server: ServerHandle) -> None:
    alice, alice_token, _ = await server.register("alice")
    bob, bob_token, _ = await server.register("bob")
    room_id = await knock_room(server, alice_token)
    await send(server, alice_token, room_id, "members only")
    start = await do_sync(server, bob_token)
    await knock(server, bob_token, bob, room_id)
    body = await do_sync(server, bob_token, start["next_batch"])
    assert room_id not in body["rooms"]["join"]
    events = body["rooms"]["knock"][room_id]["knock_state"]["events"]
    assert all(set(e) == STRIPPED_KEYS for e in events)
    assert events[0]["type"] == "m.room.create"
    types = [e["type"] for e in events]
    assert "m.room.message" not in types
    last = events[-1]
    assert (last["type"], last["state_key"], last["sender"]) == ("m.room.member", bob, bob)
    assert last["content"]["membership"] == "knock" and last["content"]["reason"] == "hi"
    join_rules = next(e for e in events if e["type"] == "m.room.join_rules")
    assert join_rules["content"]["join_rule"] == "knock"
    # The moderator sees the knock in the room's timeline.
    admin = await do_sync(server, alice_token)
    knocks = [
        e for e in admin["rooms"]["join"][room_id]["timeline"]["events"]
        if e["type"] == "m.room.member" and e["content"].get("membership") == "knock"
    ]  # fmt: skip
    assert knocks and knocks[0]["sender"] == bob
    # Accepting (an invite) moves the room from knock to invite.
    await post(server, alice_token, f"/rooms/{room_id}/invite", {"user_id": bob})
    after = await do_sync(server, bob_token, body["next_batch"])
    assert after["rooms"]["knock"] == {}
    invite = after["rooms"]["invite"][room_id]["invite_state"]["events"]
    assert invite[-1]["content"]["membership"] == "invite" and invite[-1]["sender"] == alice


async def test_rejected_and_rescinded_knocks_move_to_leave(server: ServerHandle) -> None:
    _, alice_token, _ = await server.register("alice")
    bob, bob_token, _ = await server.register("bob")
    carol, carol_token, _ = await server.register("carol")
    room_id = await knock_room(server, alice_token)
    await send(server, alice_token, room_id, "members only")
    await knock(server, bob_token, bob, room_id)
    await knock(server, carol_token, carol, room_id)
    bob_start = await do_sync(server, bob_token)
    carol_start = await do_sync(server, carol_token)
    assert room_id in bob_start["rooms"]["knock"]
    # Rejection: the moderator kicks bob.
    await post(server, alice_token, f"/rooms/{room_id}/kick", {"user_id": bob, "reason": "no"})
    body = await do_sync(server, bob_token, bob_start["next_batch"])
    assert body["rooms"]["knock"] == {}
    left = body["rooms"]["leave"][room_id]
    # Only the final membership event: a knocker sees nothing else of the room.
    assert [(e["type"], e["content"]["membership"]) for e in left["timeline"]["events"]] == [
        ("m.room.member", "leave")
    ]
    assert left["timeline"]["events"][0]["content"]["reason"] == "no"
    assert left["state"]["events"] == []
    # Rescinding: carol withdraws her own knock.
    await post(server, carol_token, f"/rooms/{room_id}/leave", {})
    body = await do_sync(server, carol_token, carol_start["next_batch"])
    left = body["rooms"]["leave"][room_id]
    events = left["timeline"]["events"]
    assert len(events) == 1 and events[0]["sender"] == carol
    assert events[0]["unsigned"]["prev_content"]["membership"] == "knock"


async def test_leave_section_on_kick_and_ban(server: ServerHandle) -> None:
    _, alice_token, _ = await server.register("alice")
    bob, bob_token, _ = await server.register("bob")
    room_id = await create_room(server, alice_token, preset="public_chat")
    await join(server, bob_token, room_id)
    start = await do_sync(server, bob_token)
    await send(server, alice_token, room_id, "before kick")
    await post(server, alice_token, f"/rooms/{room_id}/kick", {"user_id": bob})
    await send(server, alice_token, room_id, "after kick")
    body = await do_sync(server, bob_token, start["next_batch"])
    assert room_id not in body["rooms"]["join"]
    left = body["rooms"]["leave"][room_id]
    assert bodies(left) == ["before kick"]  # the timeline stops at the leave
    last = left["timeline"]["events"][-1]
    assert (last["type"], last["state_key"], last["content"]["membership"]) == (
        "m.room.member", bob, "leave",
    )  # fmt: skip
    # Not in the next incremental sync; an initial sync shows it only with include_leave.
    again = await do_sync(server, bob_token, body["next_batch"])
    assert again["rooms"]["leave"] == {}
    initial = await do_sync(server, bob_token)
    assert initial["rooms"]["leave"] == {}
    with_leave = await do_sync(server, bob_token, filter='{"room": {"include_leave": true}}')
    assert room_id in with_leave["rooms"]["leave"]
    # Rejoin, then a ban: leave section with membership ban.
    await join(server, bob_token, room_id)
    mid = await do_sync(server, bob_token, again["next_batch"])
    assert room_id in mid["rooms"]["join"]
    await post(server, alice_token, f"/rooms/{room_id}/ban", {"user_id": bob})
    banned = await do_sync(server, bob_token, mid["next_batch"])
    last = banned["rooms"]["leave"][room_id]["timeline"]["events"][-1]
    assert last["content"]["membership"] == "ban"


async def test_summary_counts_and_heroes(server: ServerHandle) -> None:
    alice, alice_token, _ = await server.register("alice")
    bob, bob_token, _ = await server.register("bob")
    carol, _, _ = await server.register("carol")
    room_id = await create_room(server, alice_token, preset="public_chat")
    await join(server, bob_token, room_id)
    await post(server, alice_token, f"/rooms/{room_id}/invite", {"user_id": carol})
    body = await do_sync(server, alice_token)
    summary = body["rooms"]["join"][room_id]["summary"]
    assert summary["m.joined_member_count"] == 2
    assert summary["m.invited_member_count"] == 1
    assert summary["m.heroes"] == [bob, carol]
    assert alice not in summary["m.heroes"]
