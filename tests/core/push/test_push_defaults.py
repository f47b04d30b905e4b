"""The server-default push rules ("Predefined Rules") and MSC4506's knock rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from transom.core.push import KNOCK_RULE_ID, RECIPIENT_PERMISSION, RULE_KINDS, default_rules

USER = "@alice:example.org"
SPEC = json.loads((Path(__file__).parent / "spec_default_rules.json").read_text())


def _fill(value: Any) -> Any:
    """The spec's definitions with its placeholders replaced by USER's values."""
    if isinstance(value, dict):
        return {k: _fill(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v) for v in value]
    if value == "[the user's Matrix ID]":
        return USER
    if value == "[the local part of the user's Matrix ID]":
        return "alice"
    return value


def _ids(ruleset: dict[str, Any], kind: str) -> list[str]:
    return [r["rule_id"] for r in ruleset["global"][kind]]


@pytest.mark.parametrize(("version", "legacy"), [("v1.19", False), ("v1.16", True)])
def test_rules_equal_the_spec_definitions(version: str, legacy: bool) -> None:
    ours = default_rules(USER, legacy_mention_rules=legacy)["global"]
    assert set(ours) == set(RULE_KINDS)
    for kind in RULE_KINDS:
        expected = _fill(SPEC[version].get(kind, []))
        mine = [r for r in ours[kind] if r["rule_id"] != KNOCK_RULE_ID]
        assert mine == expected, kind


def test_current_spec_has_no_legacy_body_mention_rules() -> None:
    ruleset = default_rules(USER)
    assert ruleset["global"]["content"] == []
    assert ruleset["global"]["room"] == []
    assert ruleset["global"]["sender"] == []
    ids = _ids(ruleset, "override")
    assert ".m.rule.contains_display_name" not in ids
    assert ".m.rule.roomnotif" not in ids


def test_knock_rule_sits_between_invite_for_me_and_member_event() -> None:
    for legacy in (False, True):
        ids = _ids(default_rules(USER, legacy_mention_rules=legacy), "override")
        at = ids.index(KNOCK_RULE_ID)
        assert ids[at - 1] == ".m.rule.invite_for_me"
        assert ids[at + 1] == ".m.rule.member_event"


def test_knock_rule_definition() -> None:
    (rule,) = [
        r for r in default_rules(USER)["global"]["override"] if r["rule_id"] == KNOCK_RULE_ID
    ]
    assert rule == {
        "rule_id": ".org.matrix.msc4506.rule.knock",
        "default": True,
        "enabled": True,
        "conditions": [
            {"kind": "event_property_is", "key": "type", "value": "m.room.member"},
            {"kind": "event_property_is", "key": "content.membership", "value": "knock"},
            {"kind": RECIPIENT_PERMISSION, "key": "invite"},
        ],
        "actions": ["notify", {"set_tweak": "sound", "value": "default"}],
    }
    assert RECIPIENT_PERMISSION == "org.matrix.msc4506.recipient_permission"


def test_every_rule_has_the_required_fields_and_a_dotted_id() -> None:
    ruleset = default_rules(USER, legacy_mention_rules=True)["global"]
    for kind, rules in ruleset.items():
        for rule in rules:
            assert {"rule_id", "default", "enabled", "actions"} <= set(rule)
            assert rule["rule_id"].startswith(".")
            assert rule["default"] is True
            assert ("conditions" in rule) is (kind in ("override", "underride"))
            assert ("pattern" in rule) is (kind == "content")


def test_user_specific_values() -> None:
    ruleset = default_rules("@bob.smith:other.example", legacy_mention_rules=True)["global"]
    (content,) = ruleset["content"]
    assert content["pattern"] == "bob.smith"
    invite = next(r for r in ruleset["override"] if r["rule_id"] == ".m.rule.invite_for_me")
    assert invite["conditions"][2] == {
        "kind": "event_match",
        "key": "state_key",
        "pattern": "@bob.smith:other.example",
    }


def test_each_call_returns_independent_json() -> None:
    first = default_rules(USER)
    first["global"]["override"][2]["actions"][1]["value"] = "changed"
    first["global"]["underride"].clear()
    second = default_rules(USER)
    assert second["global"]["override"][2]["actions"][1]["value"] == "default"
    assert len(second["global"]["underride"]) == 5
    assert second == default_rules(USER)
    json.dumps(second)  # plain JSON
