"""Merging user rules with the defaults, and reading actions ("Actions", "Predefined Rules")."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from transom.core.push import (
    KNOCK_RULE_ID,
    MASTER_RULE_ID,
    default_rules,
    merge_rules,
    notification_counts_from_actions,
    strip_historical_actions,
    tweaks_from_actions,
)

USER = "@alice:example.org"


def _ids(ruleset: dict[str, Any], kind: str) -> list[str]:
    return [r["rule_id"] for r in ruleset["global"][kind]]


def test_no_changes_gives_the_defaults() -> None:
    defaults = default_rules(USER)
    assert merge_rules(defaults) == defaults


def test_user_rules_go_before_defaults_but_after_master() -> None:
    defaults = default_rules(USER)
    user: dict[str, list[dict[str, Any]]] = {
        "override": [
            {"rule_id": "first", "conditions": [], "actions": []},
            {"rule_id": "second", "conditions": [], "actions": [], "enabled": False},
        ],
        "underride": [{"rule_id": "late", "conditions": [], "actions": ["notify"]}],
    }
    merged = merge_rules(defaults, user)
    override = _ids(merged, "override")
    assert override[:3] == [MASTER_RULE_ID, "first", "second"]
    assert override[3:] == _ids(defaults, "override")[1:]
    assert _ids(merged, "underride")[0] == "late"
    first, second = merged["global"]["override"][1:3]
    assert first["default"] is False and first["enabled"] is True
    assert second["enabled"] is False


def test_user_rules_cannot_take_server_default_ids() -> None:
    user = {"override": [{"rule_id": KNOCK_RULE_ID, "conditions": [], "actions": []}]}
    merged = merge_rules(default_rules(USER), user)
    knock = [r for r in merged["global"]["override"] if r["rule_id"] == KNOCK_RULE_ID]
    assert len(knock) == 1 and knock[0]["default"] is True


def test_enabled_and_actions_overrides() -> None:
    merged = merge_rules(
        default_rules(USER),
        {"room": [{"rule_id": "!r:x", "actions": []}]},
        enabled={("override", KNOCK_RULE_ID): False, ("room", "!r:x"): False},
        actions={("underride", ".m.rule.message"): ["notify", {"set_tweak": "sound"}]},
    )
    knock = next(r for r in merged["global"]["override"] if r["rule_id"] == KNOCK_RULE_ID)
    assert knock["enabled"] is False and knock["default"] is True
    assert merged["global"]["room"][0]["enabled"] is False
    message = next(r for r in merged["global"]["underride"] if r["rule_id"] == ".m.rule.message")
    assert message["actions"] == ["notify", {"set_tweak": "sound"}]


def test_inputs_are_not_modified() -> None:
    defaults = default_rules(USER)
    user = {"content": [{"rule_id": "cake", "pattern": "cake", "actions": ["notify"]}]}
    before = (copy.deepcopy(defaults), copy.deepcopy(user))
    new_actions = ["notify"]
    merged = merge_rules(
        defaults,
        user,
        enabled={("content", "cake"): False},
        actions={("underride", ".m.rule.message"): new_actions},
    )
    merged["global"]["underride"][-2]["actions"].append("x")
    assert (defaults, user) == before
    assert new_actions == ["notify"]


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        ([], (False, False)),
        (["notify"], (True, False)),
        (["notify", {"set_tweak": "highlight"}], (True, True)),
        (["notify", {"set_tweak": "highlight", "value": True}], (True, True)),
        (["notify", {"set_tweak": "highlight", "value": False}], (True, False)),
        (["notify", {"set_tweak": "highlight", "value": "yes"}], (True, False)),
        ([{"set_tweak": "highlight"}], (False, False)),
        (["notify", {"set_tweak": "sound", "value": "default"}], (True, False)),
        (
            ["notify", {"set_tweak": "highlight"}, {"set_tweak": "highlight", "value": False}],
            (True, False),
        ),
    ],
)
def test_notification_counts(actions: list[Any], expected: tuple[bool, bool]) -> None:
    assert notification_counts_from_actions(actions) == expected


def test_tweaks() -> None:
    actions = [
        "notify",
        {"set_tweak": "sound", "value": "ring"},
        {"set_tweak": "highlight"},
        {"set_tweak": "custom.flash", "value": {"colour": "red"}},
        {"set_tweak": "sound"},  # no value: nothing to pass on
        {"set_tweak": 3, "value": 1},
        {"other": 1},
    ]
    assert tweaks_from_actions(actions) == {
        "sound": "ring",
        "highlight": True,
        "custom.flash": {"colour": "red"},
    }


def test_strip_historical_actions() -> None:
    assert strip_historical_actions(["dont_notify"]) == []
    assert strip_historical_actions(["coalesce", "notify", {"set_tweak": "x"}]) == [
        "notify",
        {"set_tweak": "x"},
    ]
    assert strip_historical_actions("notify") == []
    assert strip_historical_actions(None) == []
