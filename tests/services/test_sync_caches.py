"""What /sync caches between requests never shows stale data, on both engines.

Client-server API "Syncing" and "Redactions": the client form of each event is cached (without
``unsigned``), as are the redaction in effect for it, each room's newest events, its member
summary and the transaction ID of each event. A redaction persisted after an event was cached
is served; a state or membership change shows up in the next sync; ``unsigned.age`` and
``unsigned.transaction_id`` stay per request and per device.
"""

from __future__ import annotations

from typing import Any

import pytest

from transom.app import HomeServer
from transom.core.events import Event
from transom.services.filtering import DEFAULT_FILTER
from transom.services.rooms.creation import parse_create_room
from transom.services.rooms.events import EventDraft
from transom.services.sync.tokens import SyncToken

SERVER = "caches.test"
ALICE, BOB = f"@alice:{SERVER}", f"@bob:{SERVER}"


async def make_room(hs: HomeServer, name: str) -> str:
    request = parse_create_room({"preset": "public_chat", "name": name}, "10")
    room_id, _ = await hs.rooms.room_creator.create_room(ALICE, request)
    return room_id


async def send(
    hs: HomeServer, room_id: str, draft: EventDraft, txn: tuple[str, str, str] | None = None
) -> Event:
    return await hs.rooms.creator.send(room_id, draft, txn=txn)


def message(body: str) -> EventDraft:
    return EventDraft(ALICE, "m.room.message", {"msgtype": "m.text", "body": body})


async def sync(hs: HomeServer, user: str, device: str, since: str | None = None) -> Any:
    token = SyncToken.parse(since) if since is not None else None
    return await hs.sync.sync(user, device, since=token, sync_filter=DEFAULT_FILTER)


def timeline(response: Any, room_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = response["rooms"]["join"][room_id]["timeline"]["events"]
    return events


def by_id(response: Any, room_id: str, event_id: str) -> dict[str, Any]:
    [found] = [e for e in timeline(response, room_id) if e["event_id"] == event_id]
    return found


async def test_redaction_after_caching_is_served_redacted(hs: HomeServer) -> None:
    room_id = await make_room(hs, "Room")
    target = await send(hs, room_id, message("secret"))
    first = await sync(hs, ALICE, "D1")
    assert by_id(first, room_id, target.event_id)["content"]["body"] == "secret"
    again = await sync(hs, ALICE, "D2")
    assert by_id(again, room_id, target.event_id)["content"]["body"] == "secret"
    # The event's client form, its redaction state and the room's timeline are cached now.
    assert hs.rooms._client_forms.get(target.event_id) is not None
    assert hs.rooms.redactions._effective.get(target.event_id) == ""
    assert hs.sync.loader.queries.memo(room_id, "recent") is not None

    redaction = await send(
        hs, room_id, EventDraft(ALICE, "m.room.redaction", {"reason": "oops"},
                                redacts=target.event_id),
    )  # fmt: skip
    for response in (await sync(hs, ALICE, "D3"), await sync(hs, BOB, "D1")):
        if room_id not in response["rooms"]["join"]:
            continue  # Bob is not in the room
        served = by_id(response, room_id, target.event_id)
        assert served["content"] == {}
        assert served["unsigned"]["redacted_because"]["event_id"] == redaction.event_id
        assert served["unsigned"]["redacted_because"]["content"] == {
            "reason": "oops", "redacts": target.event_id,
        }  # fmt: skip
    # An incremental sync brings the redaction; /messages and /event serve the event redacted.
    later = await sync(hs, ALICE, "D1", first["next_batch"])
    assert [e["event_id"] for e in timeline(later, room_id)] == [redaction.event_id]
    [served] = await hs.rooms.serialize([target])
    assert served["content"] == {}
    assert served["unsigned"]["redacted_because"]["event_id"] == redaction.event_id


async def test_state_and_membership_changes_show_up(hs: HomeServer) -> None:
    room_id = await make_room(hs, "One")
    before = await sync(hs, ALICE, "D1")
    room = before["rooms"]["join"][room_id]
    names = [e for e in timeline(before, room_id) if e["type"] == "m.room.name"]
    assert [e["content"]["name"] for e in names] == ["One"]
    assert room["summary"] == {
        "m.heroes": [], "m.joined_member_count": 1, "m.invited_member_count": 0,
    }  # fmt: skip
    await sync(hs, ALICE, "D2")  # everything cached
    assert hs.sync.loader.queries.memo(room_id, "members") is not None

    await send(hs, room_id, EventDraft(ALICE, "m.room.name", {"name": "Two"}, state_key=""))
    await hs.rooms.join(BOB, room_id)
    after = await sync(hs, ALICE, "D3")
    names = [e for e in timeline(after, room_id) if e["type"] == "m.room.name"]
    assert names[-1]["content"]["name"] == "Two"
    assert names[-1]["unsigned"]["prev_content"] == {"name": "One"}
    assert after["rooms"]["join"][room_id]["summary"] == {
        "m.heroes": [BOB], "m.joined_member_count": 2, "m.invited_member_count": 0,
    }  # fmt: skip
    bobs = await sync(hs, BOB, "B1")
    assert bobs["rooms"]["join"][room_id]["summary"]["m.heroes"] == [ALICE]
    await hs.rooms.leave(BOB, room_id)
    left = await sync(hs, ALICE, "D4")
    assert left["rooms"]["join"][room_id]["summary"] == {
        "m.heroes": [BOB], "m.joined_member_count": 1, "m.invited_member_count": 0,
    }  # fmt: skip


async def test_transaction_ids_only_for_the_sending_device(hs: HomeServer) -> None:
    room_id = await make_room(hs, "Room")
    sent = await send(hs, room_id, message("mine"), txn=(ALICE, "D1", "txn-1"))
    other = await send(hs, room_id, message("no txn"))
    for _ in range(2):  # read, then from the caches
        served = by_id(await sync(hs, ALICE, "D1"), room_id, sent.event_id)
        assert served["unsigned"]["transaction_id"] == "txn-1"
        assert "transaction_id" not in by_id(await sync(hs, ALICE, "D1"), room_id,
                                             other.event_id)["unsigned"]  # fmt: skip
        served = by_id(await sync(hs, ALICE, "D2"), room_id, sent.event_id)
        assert "transaction_id" not in served["unsigned"]


async def test_age_is_per_request(hs: HomeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    room_id = await make_room(hs, "Room")
    sent = await send(hs, room_id, message("hello"))
    ts = sent.origin_server_ts
    for elapsed in (5_000, 9_000):
        monkeypatch.setattr(hs.rooms.clock, "time_msec", lambda elapsed=elapsed: ts + elapsed)
        served = by_id(await sync(hs, ALICE, "D1"), room_id, sent.event_id)
        assert served["unsigned"] == {"age": elapsed}
    # A caller changing what it was given does not change what the next one gets.
    [mine] = await hs.rooms.serialize([sent])
    mine["unsigned"]["transaction_id"] = "x"
    mine["sender"] = "@someone:else"
    [theirs] = await hs.rooms.serialize([sent])
    assert theirs["sender"] == ALICE and "transaction_id" not in theirs["unsigned"]
