"""Building rooms and events for the authorization rule tests.

Events are built directly as ``Event(pdu, room_version, event_id)`` with readable event IDs; the
auth rules read neither hashes nor signature bytes, only which servers signed.
"""

from __future__ import annotations

import itertools
from typing import Any

from transom.core.events import Event, StateKey
from transom.core.room_versions import EventFormat, RoomVersion

SERVER = "example.org"
CREATOR = "@creator:example.org"
MOD = "@mod:example.org"  # joined, power level 50
LOW = "@low:example.org"  # joined, power level 0
OUT = "@out:example.org"  # left the room, power level 100
ALICE = "@alice:remote.org"  # the user who knocks

_ids = itertools.count()


def _refs(rv: RoomVersion, ids: list[str]) -> list[Any]:
    if rv.event_format is EventFormat.V1:
        return [[i, {"sha256": "x"}] for i in ids]
    return list(ids)


def make_event(
    rv: RoomVersion,
    room_id: str | None,
    event_type: str,
    sender: str,
    content: Any,
    state_key: str | None = None,
    *,
    event_id: str | None = None,
    prev: list[str] | None = None,
    signed_by: list[str] | None = None,
    **extra: Any,
) -> Event:
    event_id = event_id or f"$ev{next(_ids)}:{SERVER}"
    servers = signed_by if signed_by is not None else [sender.partition(":")[2]]
    pdu: dict[str, Any] = {
        "type": event_type,
        "sender": sender,
        "content": content,
        "prev_events": _refs(rv, prev if prev is not None else ["$prev:example.org"]),
        "auth_events": [],
        "depth": 5,
        "origin_server_ts": 1,
        "signatures": {s: {"ed25519:a": "sig"} for s in servers},
    }
    if room_id is not None:
        pdu["room_id"] = room_id
    if state_key is not None:
        pdu["state_key"] = state_key
    if rv.event_format is EventFormat.V1:
        pdu["event_id"] = event_id
    pdu.update(extra)
    return Event(pdu, rv, event_id)


def create_content(rv: RoomVersion, **extra: Any) -> dict[str, Any]:
    content: dict[str, Any] = {"room_version": rv.identifier}
    if not rv.implicit_room_creator:
        content["creator"] = CREATOR
    content.update(extra)
    return content


class Room:
    """A room's state: a create event, members, optional power levels and join rules."""

    def __init__(
        self,
        rv: RoomVersion,
        *,
        join_rule: str | None = "invite",
        members: dict[str, str] | None = None,
        power_levels: dict[str, Any] | None = None,
        create_extra: dict[str, Any] | None = None,
    ) -> None:
        self.rv = rv
        create_id = "$create" if rv.room_id_is_create_hash else f"$create:{SERVER}"
        self.room_id = "!create" if rv.room_id_is_create_hash else f"!room:{SERVER}"
        self.create = make_event(
            rv,
            None if rv.room_id_is_create_hash else self.room_id,
            "m.room.create",
            CREATOR,
            create_content(rv, **(create_extra or {})),
            "",
            event_id=create_id,
            prev=[],
        )
        self.state: dict[StateKey, Event] = {("m.room.create", ""): self.create}
        for user, membership in (members or {CREATOR: "join"}).items():
            self.set_member(user, membership)
        if join_rule is not None:
            self.add("m.room.join_rules", CREATOR, {"join_rule": join_rule}, "")
        if power_levels is not None:
            self.add("m.room.power_levels", CREATOR, power_levels, "")

    def event(
        self,
        event_type: str,
        sender: str,
        content: Any,
        state_key: str | None = None,
        **kwargs: Any,
    ) -> Event:
        return make_event(self.rv, self.room_id, event_type, sender, content, state_key, **kwargs)

    def add(self, event_type: str, sender: str, content: Any, state_key: str) -> Event:
        event = self.event(event_type, sender, content, state_key)
        self.state[(event_type, state_key)] = event
        return event

    def set_member(self, user: str, membership: str | None) -> None:
        if membership is None:
            self.state.pop(("m.room.member", user), None)
        else:
            self.add("m.room.member", user, {"membership": membership}, user)

    def member(self, sender: str, target: str, membership: str, **kwargs: Any) -> Event:
        content = {"membership": membership, **kwargs.pop("content", {})}
        return self.event("m.room.member", sender, content, target, **kwargs)


def default_power_levels(rv: RoomVersion, **overrides: Any) -> dict[str, Any]:
    """Power levels with invite, kick and ban at 50; the creator at 100 (not listed in v12)."""
    users: dict[str, Any] = {MOD: 50, LOW: 0, OUT: 100}
    if not rv.privileged_creators:
        users[CREATOR] = 100
    content: dict[str, Any] = {
        "users": users,
        "users_default": 0,
        "invite": 50,
        "kick": 50,
        "ban": 50,
        "redact": 50,
        "events_default": 0,
        "state_default": 50,
        "events": {},
    }
    users.update(overrides.pop("users", {}))
    content.update(overrides)
    return content
