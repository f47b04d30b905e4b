"""State resolution v2/v2.1 on the classic fixtures of
`tests/core/vectors/state_res/v2_classic.json` (spec: `content/rooms/fragments/v2-state-res.md`,
`content/rooms/v12.md`), with the real auth rules.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from transom.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from transom.core.state_res import resolve_state

from .graph import build_case, event_id, expected_state, load_cases

CASES = load_cases("v2_classic.json")
VERSIONS = [KNOWN_ROOM_VERSIONS[v] for v in ("2", "6", "7", "10", "11", "12")]


def _params() -> list[Any]:
    params = []
    for case in CASES:
        for version in VERSIONS:
            if case.get("min_knocking") and not version.knocking:
                continue
            params.append(pytest.param(version, case, id=f"{case['name']}-v{version.identifier}"))
    return params


@pytest.mark.parametrize(("room_version", "case"), _params())
def test_classic_case(room_version: RoomVersion, case: dict[str, Any]) -> None:
    graph = build_case(room_version, case)
    assert graph.state_after[event_id("END")] == expected_state(graph, case["expected"])


@pytest.mark.parametrize(("room_version", "case"), _params())
def test_result_does_not_depend_on_input_order(
    room_version: RoomVersion, case: dict[str, Any]
) -> None:
    graph = build_case(room_version, case)
    end = graph.events[event_id("END")]
    state_sets = [graph.state_after[p] for p in end.prev_event_ids]
    expected = resolve_state(room_version, state_sets, graph.events)
    rng = random.Random(case["name"])
    for permutation in itertools.permutations(state_sets):
        shuffled = []
        for state_set in permutation:
            items = list(state_set.items())
            rng.shuffle(items)
            shuffled.append(dict(items))
        event_items = list(graph.events.items())
        rng.shuffle(event_items)
        assert resolve_state(room_version, shuffled, dict(event_items)) == expected
