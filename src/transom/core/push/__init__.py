"""Push rules (client-server API, "Push Notifications" → "Push Rules"): the server-default
ruleset (plus MSC4506's knock rule, unstable identifiers), merging with a user's own rules, and a
pure evaluator of every condition kind (``evaluate``, the reference) and its compiled form for
evaluating one event for many recipients (``compile_ruleset``, ``EventEvaluator``).
"""

from .actions import notification_counts_from_actions, strip_historical_actions, tweaks_from_actions
from .compiled import CompiledRule, CompiledRuleset, EventEvaluator, compile_ruleset
from .conditions import RECIPIENT_PERMISSION, condition_matches
from .context import DEFAULT_ACTION_LEVELS, DEFAULT_NOTIFICATION_LEVEL, PushContext
from .defaults import KNOCK_RULE_ID, LEGACY_MENTION_RULE_IDS, RULE_KINDS, default_rules
from .evaluator import evaluate, first_match, rule_matches
from .merge import MASTER_RULE_ID, merge_rules

__all__ = [
    "DEFAULT_ACTION_LEVELS",
    "DEFAULT_NOTIFICATION_LEVEL",
    "KNOCK_RULE_ID",
    "LEGACY_MENTION_RULE_IDS",
    "MASTER_RULE_ID",
    "RECIPIENT_PERMISSION",
    "RULE_KINDS",
    "CompiledRule",
    "CompiledRuleset",
    "EventEvaluator",
    "PushContext",
    "compile_ruleset",
    "condition_matches",
    "default_rules",
    "evaluate",
    "first_match",
    "merge_rules",
    "notification_counts_from_actions",
    "rule_matches",
    "strip_historical_actions",
    "tweaks_from_actions",
]
