"""State resolution v1 (spec `content/rooms/v1.md` "State resolution"), room version 1."""

from __future__ import annotations

import hashlib

from transom.core.events import StateKey
from transom.core.room_versions import V1, V2
from transom.core.state_res import resolve_state
from transom.core.state_res.v1 import separate_v1

from .graph import ALICE, BOB, ZARA, RoomGraph, initial_room

PL: StateKey = ("m.room.power_levels", "")
TOPIC: StateKey = ("m.room.topic", "")


def _ban_vs_pl(graph: RoomGraph) -> list[dict[StateKey, str]]:
    pl = graph.power_levels({ALICE: 100, BOB: 50})
    graph.add("PA", "m.room.power_levels", ALICE, "", pl, prev=["START"])
    graph.add("MB", "m.room.member", ALICE, BOB, {"membership": "ban"}, prev=["PA"])
    graph.add("PB", "m.room.power_levels", BOB, "", {**pl, "ban": 50}, prev=["PA"])
    return [graph.state_after["$MB"], graph.state_after["$PB"]]


def test_v1_ban_vs_pl() -> None:
    graph = initial_room(V1)
    state_sets = _ban_vs_pl(graph)
    resolved = resolve_state(V1, state_sets, graph.events)
    # Power levels first: PA (shallower) goes in, then PB is checked in R, where Bob's
    # membership is conflicted and so absent: he is not joined, PB fails.
    assert resolved[PL] == "$PA"
    # Members next: IMB (shallower) then MB, allowed for Alice.
    assert resolved[("m.room.member", BOB)] == "$MB"
    assert resolve_state(V1, state_sets[::-1], graph.events) == resolved


def test_v1_power_levels_chain_stops_at_the_first_failure() -> None:
    graph = initial_room(V1)
    pl = graph.power_levels({ALICE: 100, BOB: 50})
    graph.add("PA", "m.room.power_levels", ALICE, "", pl, prev=["START"])
    graph.add("PB", "m.room.power_levels", BOB, "", {**pl, "kick": 50}, prev=["PA"])
    # Zara (power 0) may not change power levels; Alice's deeper change comes after hers.
    graph.add("PZ", "m.room.power_levels", ZARA, "", {**pl, "kick": 40}, prev=["PB"])
    graph.add("PA3", "m.room.power_levels", ALICE, "", {**pl, "kick": 30}, prev=["PZ"])
    two = [graph.state_after["$PA"], graph.state_after["$PB"]]
    assert resolve_state(V1, two, graph.events)[PL] == "$PB"  # PA, then PB is allowed
    four = [graph.state_after[f"${name}"] for name in ("PA3", "PZ", "PB", "PA")]
    assert resolve_state(V1, four, graph.events)[PL] == "$PB"  # PZ fails: PA3 is never tried


def test_v2_on_the_same_graph_drops_it() -> None:
    graph = initial_room(V2)
    state_sets = _ban_vs_pl(graph)
    resolved = resolve_state(V2, state_sets, graph.events)
    assert resolved[PL] == "$PA"
    assert resolved[("m.room.member", BOB)] == "$MB"


def test_v1_topic_highest_depth_that_passes() -> None:
    graph = initial_room(V1)
    graph.add("T1", "m.room.topic", ALICE, "", {"topic": "one"}, prev=["START"])
    graph.add("M1", "m.room.message", ALICE, None, {"body": "x"}, prev=["START"])
    graph.add("T2", "m.room.topic", ALICE, "", {"topic": "two"}, prev=["M1"])
    resolved = resolve_state(V1, [graph.state_after["$T1"], graph.state_after["$T2"]], graph.events)
    assert resolved[TOPIC] == "$T2"  # deeper


def test_v1_topic_falls_back_when_the_deeper_one_fails() -> None:
    graph = initial_room(V1)
    graph.add("T1", "m.room.topic", ALICE, "", {"topic": "one"}, prev=["START"])
    graph.add("M1", "m.room.message", ZARA, None, {"body": "x"}, prev=["START"])
    # Zara (power 0) may not set the topic (state_default 50): T2 fails in R.
    graph.add("T2", "m.room.topic", ZARA, "", {"topic": "two"}, prev=["M1"])
    state_sets = [graph.state_after["$T1"], graph.state_after["$T2"]]
    assert resolve_state(V1, state_sets, graph.events)[TOPIC] == "$T1"


def test_v1_no_passing_event_keeps_the_shallowest() -> None:
    graph = initial_room(V1)
    graph.add("T1", "m.room.topic", ZARA, "", {"topic": "one"}, prev=["START"])
    graph.add("M1", "m.room.message", ZARA, None, {"body": "x"}, prev=["START"])
    graph.add("T2", "m.room.topic", ZARA, "", {"topic": "two"}, prev=["M1"])
    state_sets = [graph.state_after["$T1"], graph.state_after["$T2"]]
    assert resolve_state(V1, state_sets, graph.events)[TOPIC] == "$T1"


def test_v1_equal_depth_prefers_lowest_sha1() -> None:
    graph = initial_room(V1)
    graph.add("TA", "m.room.topic", ALICE, "", {"topic": "a"}, prev=["START"])
    graph.add("TB", "m.room.topic", ALICE, "", {"topic": "b"}, prev=["START"])
    state_sets = [graph.state_after["$TA"], graph.state_after["$TB"]]
    lowest = min(("$TA", "$TB"), key=lambda e: hashlib.sha1(e.encode()).hexdigest())
    assert resolve_state(V1, state_sets, graph.events)[TOPIC] == lowest


def test_v1_missing_key_is_not_a_conflict() -> None:
    unconflicted, conflicted = separate_v1([{TOPIC: "$A"}, {PL: "$P"}, {TOPIC: "$A", PL: "$Q"}])
    assert unconflicted == {TOPIC: "$A"}
    assert conflicted == {PL: {"$P", "$Q"}}
