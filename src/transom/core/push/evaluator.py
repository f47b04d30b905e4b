"""Evaluating a user's push rules against one event (client-server API, "Push Rules"; "Server
behaviour" of "Push Notifications").

Kinds are checked in the order override, content, room, sender, underride; within a kind, in list
order. The first enabled rule that matches decides: its actions (historical ones stripped) are the
result, which may be empty ("don't notify"). ``None`` means no rule matched, so the homeserver
"MUST NOT notify the Push Gateway". Events the user sent themselves are never evaluated ("excluding
the sender"). Push rules are not room-versioned: this applies in every room version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .actions import strip_historical_actions
from .conditions import condition_matches
from .context import PushContext
from .defaults import LEGACY_MENTION_RULE_IDS, RULE_KINDS
from .globbing import glob_matches


def _has_mentions(event: Mapping[str, Any]) -> bool:
    content = event.get("content")
    return isinstance(content, Mapping) and "m.mentions" in content


def rule_matches(
    kind: str, rule: Any, event: Mapping[str, Any], ctx: PushContext, *, has_mentions: bool
) -> bool:
    """Whether one rule of ``kind`` is enabled and matches ``event``."""
    if not isinstance(rule, Mapping) or not rule.get("enabled", True):
        # "Each rule can be enabled or disabled. Disabled rules never match."
        return False
    rule_id = rule.get("rule_id")
    if (
        isinstance(rule_id, str)
        and rule_id in LEGACY_MENTION_RULE_IDS
        and rule.get("default")
        and has_mentions
    ):
        # v1.7: the body-mention rules "should only be enabled if the event does not have an
        # m.mentions property".
        return False
    if kind in ("override", "underride"):
        # "All conditions must hold true ... A rule with no conditions always matches."
        conditions = rule.get("conditions", [])
        return isinstance(conditions, list) and all(
            condition_matches(c, event, ctx) for c in conditions
        )
    if kind == "content":
        # Content rules: `pattern` against word runs of content.body, case-insensitively.
        pattern = rule.get("pattern")
        content = event.get("content")
        body = content.get("body") if isinstance(content, Mapping) else None
        if not isinstance(pattern, str) or not isinstance(body, str):
            return False
        return glob_matches(pattern, body, word_boundary=True)
    if kind == "room":
        # "The rule_id of a room rule is always the ID of the room that it affects."
        return isinstance(rule_id, str) and rule_id == event.get("room_id")
    if kind == "sender":
        # "The rule_id of Sender rules is always the Matrix user ID of the user whose messages
        # they'd apply to."
        return isinstance(rule_id, str) and rule_id == event.get("sender")
    return False


def first_match(
    ruleset: Mapping[str, Any], event: Mapping[str, Any], ctx: PushContext
) -> tuple[str, Mapping[str, Any]] | None:
    """``(kind, rule)`` of the rule that decides for ``event``, or None if none matches."""
    if event.get("sender") == ctx.user_id:
        # "Homeservers MUST NOT notify the Push Gateway for events that the user has sent
        # themselves."
        return None
    rules = ruleset.get("global", ruleset)
    has_mentions = _has_mentions(event)
    for kind in RULE_KINDS:
        for rule in rules.get(kind, []):
            if rule_matches(kind, rule, event, ctx, has_mentions=has_mentions):
                return kind, rule
    return None


def evaluate(
    ruleset: Mapping[str, Any], event: Mapping[str, Any], ctx: PushContext
) -> list[Any] | None:
    """The actions for ``event`` (possibly empty), or None when no rule matches."""
    found = first_match(ruleset, event, ctx)
    if found is None:
        return None
    return strip_historical_actions(found[1].get("actions"))
