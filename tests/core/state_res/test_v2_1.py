"""Room version 12's state resolution changes (spec `content/rooms/v12.md` "State resolution";
MSC4297's problems A and B), contrasted with v11 where the old algorithm resets state."""

from __future__ import annotations

from transom.core.events import StateKey
from transom.core.room_versions import V11, V12, RoomVersion
from transom.core.state_res import resolve_state
from transom.core.state_res.auth_chain import auth_difference, conflicted_state_subgraph

from .graph import ALICE, BOB, CHARLIE, RoomGraph, initial_room

PL: StateKey = ("m.room.power_levels", "")
JR: StateKey = ("m.room.join_rules", "")


def _problem_a(room_version: RoomVersion) -> tuple[RoomGraph, list[dict[StateKey, str]]]:
    """Alice changes the join rules, then leaves. A second state set, as a partial sync could
    deliver it, still holds the old join rules but agrees that Alice left."""
    graph = initial_room(room_version)
    graph.add("JR2", "m.room.join_rules", ALICE, "", {"join_rule": "invite"}, prev=["START"])
    graph.add("LA", "m.room.member", ALICE, ALICE, {"membership": "leave"}, prev=["JR2"])
    correct = graph.state_after["$LA"]
    stale = {**correct, JR: "$IJR"}
    return graph, [correct, stale]


def test_problem_a_v11_resets_join_rules() -> None:
    graph, state_sets = _problem_a(V11)
    resolved = resolve_state(V11, state_sets, graph.events)
    # Both join rules are replayed on top of "Alice left" and both fail: no join rules at all.
    assert JR not in resolved
    assert resolved[("m.room.member", ALICE)] == "$LA"


def test_problem_a_v12_starts_from_empty_state() -> None:
    graph, state_sets = _problem_a(V12)
    resolved = resolve_state(V12, state_sets, graph.events)
    # Replayed against their own auth events, both pass; the later one wins.
    assert resolved[JR] == "$JR2"
    assert resolved[("m.room.member", ALICE)] == "$LA"
    assert resolve_state(V12, state_sets[::-1], graph.events) == resolved


def _problem_b(room_version: RoomVersion) -> tuple[RoomGraph, list[dict[StateKey, str]]]:
    """Alice promotes Bob (P1), Bob promotes Charlie (P2), Charlie sets the topic. A second
    state set holds the initial power levels but Charlie's topic, whose auth chain has P2."""
    graph = initial_room(room_version)
    graph.add(
        "P1",
        "m.room.power_levels",
        ALICE,
        "",
        graph.power_levels({ALICE: 100, BOB: 100}),
        prev=["START"],
    )
    graph.add(
        "P2",
        "m.room.power_levels",
        BOB,
        "",
        graph.power_levels({ALICE: 100, BOB: 100, CHARLIE: 100}),
        prev=["P1"],
    )
    graph.add("T", "m.room.topic", CHARLIE, "", {"topic": "charlie's"}, prev=["P2"])
    correct = graph.state_after["$T"]
    stale = {**correct, PL: "$IPOWER"}
    return graph, [correct, stale]


def test_problem_b_subgraph_holds_the_events_between() -> None:
    graph, state_sets = _problem_b(V12)
    # P1 lies on the path P2 → P1 → IPOWER but is in both auth chains, so only the
    # conflicted state subgraph brings it in; so do P2 → IMB (Bob's join) → IJR → IPOWER.
    assert "$P1" not in auth_difference(state_sets, graph.events)
    assert conflicted_state_subgraph({"$P2", "$IPOWER"}, graph.events) == {
        "$P2",
        "$P1",
        "$IMB",
        "$IJR",
        "$IPOWER",
    }


def test_problem_b_v11_resets_power_levels() -> None:
    graph, state_sets = _problem_b(V11)
    resolved = resolve_state(V11, state_sets, graph.events)
    assert resolved[PL] == "$IPOWER"  # P2 replayed without P1: Bob lacks power, it fails


def test_problem_b_v12_replays_the_subgraph() -> None:
    graph, state_sets = _problem_b(V12)
    resolved = resolve_state(V12, state_sets, graph.events)
    assert resolved[PL] == "$P2"
    assert resolved[("m.room.topic", "")] == "$T"
    assert resolve_state(V12, state_sets[::-1], graph.events) == resolved


def test_subgraph_ignores_branches_that_reach_no_other_conflicted_event() -> None:
    graph, _ = _problem_b(V12)
    # Only one conflicted event: no path between two, so nothing but the endpoint itself.
    assert conflicted_state_subgraph({"$P2"}, graph.events) == {"$P2"}
    # Alice's join is below P2 but no conflicted event is below it: excluded.
    assert "$IMA" not in conflicted_state_subgraph({"$P2", "$IPOWER"}, graph.events)
