"""A user's effective ruleset: server-default rules merged with the user's own rules and changes
(client-server API, "Push Rules" → "Predefined Rules" and "Push Rules: API").

"Server-default rules ... operate at a lower priority than user-defined rules, except for the
.m.rule.master rule which has always a higher priority than any other rule." So within each kind
the order is: ``.m.rule.master``, the user's rules in their stored order, the remaining defaults in
spec order. A user may enable/disable any rule and replace a default rule's actions
(``PUT .../enabled``, ``PUT .../actions``); overrides are keyed by ``(kind, rule_id)``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from .defaults import RULE_KINDS, JsonDict

MASTER_RULE_ID = ".m.rule.master"


def merge_rules(
    defaults: Mapping[str, Any],
    user_rules: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    *,
    enabled: Mapping[tuple[str, str], bool] | None = None,
    actions: Mapping[tuple[str, str], list[Any]] | None = None,
) -> JsonDict:
    """The merged ruleset ``{"global": {kind: [...]}}``; inputs are never modified.

    ``user_rules`` maps a kind to the user's rules of that kind, highest priority first. User rules
    whose ``rule_id`` starts with a dot are ignored: that namespace is the server's ("The rule_id
    for all server-default rules MUST start with a dot").
    """
    base = defaults.get("global", defaults)
    user_rules = user_rules or {}
    enabled = enabled or {}
    actions = actions or {}
    merged: JsonDict = {}
    for kind in RULE_KINDS:
        default_list = [copy.deepcopy(dict(r)) for r in base.get(kind, [])]
        masters = [r for r in default_list if r.get("rule_id") == MASTER_RULE_ID]
        others = [r for r in default_list if r.get("rule_id") != MASTER_RULE_ID]
        own = [
            {**copy.deepcopy(dict(r)), "default": False}
            for r in user_rules.get(kind, [])
            if not str(r.get("rule_id", "")).startswith(".")
        ]
        for rule in own:
            rule.setdefault("enabled", True)
        rules = masters + own + others
        for rule in rules:
            key = (kind, rule.get("rule_id", ""))
            if key in enabled:
                rule["enabled"] = bool(enabled[key])
            if key in actions:
                rule["actions"] = copy.deepcopy(list(actions[key]))
        merged[kind] = rules
    return {"global": merged}
