"""Auth chain, auth difference, orderings, missing and rejected events (spec "State resolution"
→ "Definitions", v2–v12)."""

from __future__ import annotations

import pytest

from transom.core.errors import MissingEventsError
from transom.core.events import Event, StateKey
from transom.core.room_versions import V1, V10, V11, V12
from transom.core.state_res import auth_chain, auth_difference, resolve_state
from transom.core.state_res.auth_chain import conflicted_state_subgraph
from transom.core.state_res.ordering import mainline_order, reverse_topological_power_order
from transom.core.state_res.power import as_int, is_power_event, room_creators, sender_power

from .graph import ALICE, BOB, CHARLIE, ZARA, initial_room

PL: StateKey = ("m.room.power_levels", "")


def test_auth_chain_follows_auth_events_transitively() -> None:
    graph = initial_room(V11)
    # Bob's join cites create, power levels, join rules; they cite Alice's join and create.
    assert auth_chain(["$IMB"], graph.events) == {"$CREATE", "$IMA", "$IPOWER", "$IJR"}
    assert auth_chain(["$CREATE"], graph.events) == set()
    assert auth_chain([], graph.events) == set()


def test_auth_chain_reports_every_missing_event() -> None:
    graph = initial_room(V11)
    events = {k: v for k, v in graph.events.items() if k not in ("$IPOWER", "$IJR")}
    with pytest.raises(MissingEventsError) as info:
        auth_chain(["$IMB"], events)
    assert info.value.event_ids == ("$IJR", "$IPOWER")
    assert info.value.errcode == "M_NOT_FOUND"


def test_auth_difference() -> None:
    graph = initial_room(V11)
    graph.add("T", "m.room.topic", ALICE, "", {"topic": "x"}, prev=["START"])
    s1 = {("m.room.member", BOB): "$IMB"}
    s2 = {("m.room.member", ALICE): "$IMA"}
    # Each set's own events count as part of its auth chain (as Synapse computes it).
    assert auth_difference([s1, s2], graph.events) == {"$IMB", "$IPOWER", "$IJR"}
    # An event in both sets is never in the difference, even when only one set's other events
    # cite it: $IMA is cited by $IMB (in s3) but by nothing in s4.
    s3 = {("m.room.member", BOB): "$IMB", ("m.room.member", ALICE): "$IMA"}
    s4 = {("m.room.member", ALICE): "$IMA"}
    assert "$IMA" not in auth_difference([s3, s4], graph.events)
    assert auth_difference([s1, s1], graph.events) == set()
    assert auth_difference([], graph.events) == set()


def test_resolve_raises_for_missing_conflicted_events() -> None:
    graph = initial_room(V11)
    base = graph.state_after["$START"]
    s2 = {**base, ("m.room.topic", ""): "$UNKNOWN"}
    with pytest.raises(MissingEventsError) as info:
        resolve_state(V11, [base, s2], graph.events)
    assert info.value.event_ids == ("$UNKNOWN",)
    # v1: a key missing from one state set is no conflict, so two different unknown events.
    s3 = {**base, ("m.room.topic", ""): "$UNKNOWN2"}
    with pytest.raises(MissingEventsError) as info:
        resolve_state(V1, [s2, s3], graph.events)
    assert info.value.event_ids == ("$UNKNOWN", "$UNKNOWN2")


def test_trivial_inputs() -> None:
    graph = initial_room(V11)
    base = graph.state_after["$START"]
    assert resolve_state(V11, [], graph.events) == {}
    assert resolve_state(V11, [base], graph.events) == base
    assert resolve_state(V11, [base, dict(base)], graph.events) == base


def test_power_events() -> None:
    graph = initial_room(V11)
    kick = graph.add("K", "m.room.member", ALICE, ZARA, {"membership": "leave"}, prev=["START"])
    leave = graph.add("L", "m.room.member", BOB, BOB, {"membership": "leave"}, prev=["START"])
    assert is_power_event(graph.events["$IPOWER"])
    assert is_power_event(graph.events["$IJR"])
    assert is_power_event(kick)
    assert not is_power_event(leave)  # a user leaving is not a power event
    assert not is_power_event(graph.events["$IMB"])
    assert not is_power_event(graph.events["$START"])


def test_sender_power_levels() -> None:
    graph11 = initial_room(V11)
    assert sender_power(graph11.events["$IJR"], graph11.events) == (False, 100)
    assert sender_power(graph11.events["$IMB"], graph11.events) == (False, 0)
    # Before any power levels: the creator has 100, others 0.
    assert sender_power(graph11.events["$IMA"], graph11.events) == (False, 100)
    graph12 = initial_room(V12)
    assert sender_power(graph12.events["$IJR"], graph12.events) == (True, 0)  # infinite
    assert sender_power(graph12.events["$IMB"], graph12.events) == (False, 0)
    graph10 = initial_room(V10)
    assert room_creators(graph10.events["$CREATE"]) == {ALICE}


def test_additional_creators_are_infinitely_powerful_in_v12() -> None:
    graph = initial_room(V12)
    create = graph.events["$CREATE"]
    pdu = {**create.pdu, "content": {**create.content, "additional_creators": [BOB, 5]}}
    assert room_creators(Event(pdu, V12, "$CREATE")) == {ALICE, BOB}


def test_as_int_reads_stringy_levels() -> None:
    assert as_int("50", 0) == 50
    assert as_int(" 7 ", 0) == 7
    assert as_int("x", 3) == 3
    assert as_int(True, 3) == 3
    assert as_int(None, 3) == 3
    assert as_int(12, 3) == 12


def test_reverse_topological_power_order() -> None:
    graph = initial_room(V11)
    pl = graph.power_levels({ALICE: 100, BOB: 50})
    graph.add("PA", "m.room.power_levels", ALICE, "", pl, prev=["START"])
    graph.add("JB", "m.room.join_rules", BOB, "", {"join_rule": "invite"}, prev=["PA"])
    graph.add("JA", "m.room.join_rules", ALICE, "", {"join_rule": "public"}, prev=["PA"])
    # PA is cited by both, so first; then Alice (100) before Bob (50) despite her later ts.
    assert reverse_topological_power_order(["$JB", "$JA", "$PA"], graph.events) == [
        "$PA",
        "$JA",
        "$JB",
    ]
    # Same power: earlier origin_server_ts first.
    assert reverse_topological_power_order(["$IJR", "$PA"], graph.events) == ["$IJR", "$PA"]


def test_mainline_order() -> None:
    graph = initial_room(V11)
    pl = graph.power_levels({ALICE: 100, BOB: 50})
    graph.add("PA", "m.room.power_levels", ALICE, "", pl, prev=["START"])
    graph.add("T1", "m.room.topic", BOB, "", {"topic": "1"}, prev=["PA"])
    graph.add("T0", "m.room.topic", ALICE, "", {"topic": "0"}, prev=["START"])
    graph.add("PX", "m.room.power_levels", ALICE, "", pl, prev=["START"])
    graph.add("TX", "m.room.topic", ALICE, "", {"topic": "x"}, prev=["PX"])
    # Mainline of PA: [PA, IPOWER]. T0 cites IPOWER (position 1), T1 cites PA (position 0),
    # TX's chain PX → IPOWER reaches IPOWER (position 1). Greater position first, then ts.
    assert mainline_order(["$T1", "$TX", "$T0"], "$PA", graph.events) == ["$T0", "$TX", "$T1"]
    # No power levels resolved: every position is ∞, so ts then ID decide.
    assert mainline_order(["$T1", "$TX", "$T0"], None, graph.events) == ["$T1", "$T0", "$TX"]


def test_rejected_auth_events_are_not_used() -> None:
    graph = initial_room(V11)
    pl = graph.power_levels({ALICE: 100, CHARLIE: 50})
    graph.add("PA", "m.room.power_levels", ALICE, "", pl, prev=["START"])
    graph.add("TC", "m.room.topic", CHARLIE, "", {"topic": "c"}, prev=["PA"])
    graph.add("TA", "m.room.topic", ALICE, "", {"topic": "a"}, prev=["START"])
    state_sets = [graph.state_after["$TC"], graph.state_after["$TA"]]
    assert resolve_state(V11, state_sets, graph.events)[PL] == "$PA"
    # Had PA been rejected, it cannot authorise TC (it is still replayed itself, as the spec's
    # "Rejected events" says); without power levels state_default is 50 and Charlie has 0.
    resolved = resolve_state(V11, state_sets, graph.events, rejected={"$PA"})
    assert resolved[("m.room.topic", "")] == "$TA"


def _forged(event_id: str, auth: list[str]) -> Event:
    pdu = {"type": "m.room.join_rules", "state_key": "", "sender": ALICE, "content": {}}
    pdu |= {"room_id": "!r:example.com", "origin_server_ts": 1, "depth": 1}
    pdu |= {"prev_events": [], "auth_events": auth}
    return Event(pdu, V11, event_id)


def test_auth_graph_cycles_terminate_deterministically() -> None:
    # Valid events cannot form cycles, but forged ones must not hang the algorithm.
    events = {"$A": _forged("$A", ["$B"]), "$B": _forged("$B", ["$A"])}
    assert auth_chain(["$A"], events) == {"$A", "$B"}
    assert reverse_topological_power_order(["$B", "$A"], events) == ["$A", "$B"]
    assert conflicted_state_subgraph({"$A"}, events) == {"$A", "$B"}


def test_missing_auth_event_of_a_sorted_event() -> None:
    events = {"$A": _forged("$A", ["$GONE"])}
    with pytest.raises(MissingEventsError) as info:
        mainline_order(["$A"], None, events)
    assert info.value.event_ids == ("$GONE",)


def test_create_event_power_is_its_senders() -> None:
    graph = initial_room(V11)
    assert sender_power(graph.events["$CREATE"], graph.events) == (False, 100)
