"""A small DSL for state-resolution tests: named events joined by ``prev_events`` edges.

Each event gets the readable ID ``$NAME`` (so the v12 room ID is ``!CREATE``). Its state before is
the resolution (by the code under test) of the states after its ``prev_events``; its
``auth_events`` are picked from that state with the real ``auth_types_for_event``, unless a test
names them. Timestamps follow insertion order, depth is one more than the deepest prev event.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from transom.core.auth import auth_types_for_event
from transom.core.events import Event, StateKey
from transom.core.room_versions import EventFormat, RoomVersion
from transom.core.state_res import resolve_state

ALICE = "@alice:example.com"
BOB = "@bob:example.com"
CHARLIE = "@charlie:example.com"
EVELYN = "@evelyn:example.com"
FRANK = "@frank:example.com"
ZARA = "@zara:example.com"
USERS = {"alice": ALICE, "bob": BOB, "charlie": CHARLIE, "evelyn": EVELYN, "frank": FRANK}
USERS["zara"] = ZARA

VECTORS = Path(__file__).parent.parent / "vectors" / "state_res"


def event_id(name: str) -> str:
    return "$" + name


class RoomGraph:
    """A room's events, with the state after each one."""

    def __init__(self, room_version: RoomVersion) -> None:
        self.room_version = room_version
        self.events: dict[str, Event] = {}
        self.state_after: dict[str, dict[StateKey, str]] = {}
        self._ts = 0

    @property
    def room_id(self) -> str:
        if self.room_version.room_id_is_create_hash:
            return "!CREATE"
        return "!room:example.com"

    def _refs(self, ids: Sequence[str]) -> list[Any]:
        if self.room_version.event_format is EventFormat.V1:
            return [[i, {"sha256": "unused"}] for i in ids]
        return list(ids)

    def state_before(self, prev: Sequence[str]) -> dict[StateKey, str]:
        states = [self.state_after[event_id(p)] for p in prev]
        if not states:
            return {}
        return resolve_state(self.room_version, states, self.events)

    def add(
        self,
        name: str,
        type: str,
        sender: str,
        state_key: str | None = None,
        content: Mapping[str, Any] | None = None,
        *,
        prev: Sequence[str] = (),
        auth: Sequence[str] | None = None,
    ) -> Event:
        content = dict(content or {})
        before = self.state_before(prev)
        if auth is None:
            keys = auth_types_for_event(self.room_version, type, state_key, sender, content)
            auth_ids = [before[k] for k in keys if k in before]
        else:
            auth_ids = [event_id(a) for a in auth]
        self._ts += 1
        prev_ids = [event_id(p) for p in prev]
        depth = 1 + max((self.events[p].depth for p in prev_ids), default=0)
        pdu: dict[str, Any] = {
            "type": type,
            "sender": sender,
            "content": content,
            "room_id": self.room_id,
            "origin_server_ts": self._ts,
            "depth": depth,
            "prev_events": self._refs(prev_ids),
            "auth_events": self._refs(auth_ids),
            "hashes": {"sha256": "unused"},
            "signatures": {},
        }
        if state_key is not None:
            pdu["state_key"] = state_key
        if type == "m.room.create" and self.room_version.room_id_is_create_hash:
            del pdu["room_id"]  # v12: the create event has no room_id
        if self.room_version.event_format is EventFormat.V1:
            pdu["event_id"] = event_id(name)
        event = Event(pdu, self.room_version, event_id(name))
        self.events[event.event_id] = event
        after = dict(before)
        if state_key is not None:
            after[(type, state_key)] = event.event_id
        self.state_after[event.event_id] = after
        return event

    def power_levels(self, users: Mapping[str, int]) -> dict[str, Any]:
        """PL content; v12 creators cannot be listed (they have infinite power), so drop them."""
        if self.room_version.privileged_creators:
            users = {u: level for u, level in users.items() if u != ALICE}
        return {"users": dict(users)}


def initial_room(room_version: RoomVersion) -> RoomGraph:
    """CREATE → IMA → IPOWER → IJR (public) → IMB → IMC → IMZ → START, all by the members."""
    graph = RoomGraph(room_version)
    create_content: dict[str, Any] = {"room_version": room_version.identifier}
    if not room_version.implicit_room_creator:
        create_content["creator"] = ALICE
    graph.add("CREATE", "m.room.create", ALICE, "", create_content)
    graph.add("IMA", "m.room.member", ALICE, ALICE, {"membership": "join"}, prev=["CREATE"])
    graph.add(
        "IPOWER", "m.room.power_levels", ALICE, "", graph.power_levels({ALICE: 100}), prev=["IMA"]
    )
    graph.add("IJR", "m.room.join_rules", ALICE, "", {"join_rule": "public"}, prev=["IPOWER"])
    graph.add("IMB", "m.room.member", BOB, BOB, {"membership": "join"}, prev=["IJR"])
    graph.add("IMC", "m.room.member", CHARLIE, CHARLIE, {"membership": "join"}, prev=["IMB"])
    graph.add("IMZ", "m.room.member", ZARA, ZARA, {"membership": "join"}, prev=["IMC"])
    graph.add("START", "m.room.message", ZARA, None, {"body": "start"}, prev=["IMZ"])
    return graph


def load_cases(file_name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((VECTORS / file_name).read_text())["cases"]
    return cases


def build_case(room_version: RoomVersion, case: Mapping[str, Any]) -> RoomGraph:
    """Add a fixture case's events to the initial room. Each event's ``prev`` is its
    predecessor on the first edge path that names it (paths run from END back to a root)."""
    graph = initial_room(room_version)
    prev_of: dict[str, list[str]] = {}
    for path in case["edges"]:
        for later, earlier in itertools.pairwise(path):
            prev_of.setdefault(later, [])
            if earlier not in prev_of[later]:
                prev_of[later].append(earlier)
    for spec in case["events"]:
        content = spec.get("content", {})
        if spec["type"] == "m.room.power_levels" and "users" in content:
            content = graph.power_levels({USERS[u]: lvl for u, lvl in content["users"].items()})
        state_key = spec.get("state_key")
        if state_key in USERS:
            state_key = USERS[state_key]
        graph.add(
            spec["id"],
            spec["type"],
            USERS[spec["sender"]],
            state_key,
            content,
            prev=prev_of[spec["id"]],
        )
    graph.add("END", "m.room.message", ZARA, None, {"body": "end"}, prev=prev_of["END"])
    return graph


def expected_state(graph: RoomGraph, names: Sequence[str]) -> dict[StateKey, str]:
    """The initial room's state with the named events on top."""
    state = dict(graph.state_after["$IMZ"])
    for name in names:
        event = graph.events[event_id(name)]
        state[event.state_tuple] = event.event_id
    return state
