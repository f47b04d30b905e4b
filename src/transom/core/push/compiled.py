"""Evaluating push rules for every recipient of one event, cheaply (client-server API, "Push
Rules"; "Server behaviour" of "Push Notifications"). Push rules are not room-versioned: this
applies in every room version.

The results are exactly those of ``evaluator.evaluate`` / ``first_match`` (the straightforward
reference), computed with less work:

- ``compile_ruleset`` turns a user's merged ruleset into ``CompiledRule``s once (the caller caches
  it until the user's rules change): rules that can never match are dropped (disabled ones,
  malformed ones, those with an unknown or malformed condition - "Unrecognised conditions MUST NOT
  match any events"), paths are split, globs compiled, ``is`` parsed and actions stripped, with
  their ``(notify, highlight)`` worked out in advance.
- An ``EventEvaluator`` is made once per event with the room-wide facts (member count, sender's
  level, required levels). Conditions whose result depends only on the event and the room
  (``event_match``, ``event_property_is``, ``event_property_contains``, ``room_member_count``,
  ``sender_notification_permission``, content rules) are memoised per event by their content, so
  recipients whose rules share a condition share its evaluation. A condition naming the recipient
  (``.m.rule.is_user_mention``'s user ID, ``.m.rule.invite_for_me``'s ``state_key``) has content
  of its own per user, hence is computed per user; ``contains_display_name`` and MSC4506
  ``recipient_permission`` read the recipient and are computed on every call, as is the sender
  exclusion. A rule whose conditions are all memoised is memoised as a whole, so most rules cost
  one lookup per recipient; property values are looked up once per event and path.

The event and the cached rulesets are read-only JSON (``dict``/``list``/``str``...): objects are
checked with a ``dict`` fast path before the general ``Mapping`` test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from .actions import notification_counts_from_actions, strip_historical_actions
from .conditions import RECIPIENT_PERMISSION, is_simple_value, parse_member_count, same_value
from .context import (
    DEFAULT_ACTION_LEVELS,
    PushContext,
    required_action_level,
    required_notification_level,
)
from .defaults import LEGACY_MENTION_RULE_IDS, RULE_KINDS
from .globbing import compile_glob, contains_literal_words
from .paths import MISSING, split_path

# A condition test: (event evaluation, recipient's display name, recipient's power level) -> bool.
Test = Callable[["EventEvaluator", "str | None", "int | float"], bool]
# Names a condition's (or a rule's conditions') content in the per-event memo; see ``_memo_key``.
MemoKey = str | tuple[Any, ...]
# (memo key, test): the key is None for conditions computed on every call.
CompiledCondition = tuple["MemoKey | None", Test]

_BODY: Final = ("content", "body")
_UNSET: Final = object()
_EMPTY: Final[Mapping[str, int]] = MappingProxyType({})


_PLAIN: Final = frozenset({str, int, bool, type(None)})
# Never inside a repr (control characters are escaped there): joins the keys of a rule's conditions.
_SEPARATOR: Final = "\x1f"


def _memo_key(*parts: Any) -> MemoKey:
    """A memo key for a condition's content. When every part is exactly a str, int, bool or None
    the key is their repr - a string, hashed once, whose repr tells ``True``, ``1`` and ``"1"``
    apart (they are equal as dict keys, not for `event_property_is`); otherwise a tuple that
    carries the types."""
    if all(type(part) in _PLAIN for part in parts):
        return repr(parts)
    return tuple((type(part), part) for part in parts)


def _rule_key(conditions: list[CompiledCondition]) -> MemoKey | None:
    """A memo key for "all these conditions hold", if every one of them is memoised."""
    keys = [key for key, _ in conditions]
    if not keys or not all(isinstance(key, str) for key in keys):
        return None
    if len(keys) == 1:
        # One condition: the rule holds exactly when it does, so they share the entry.
        return keys[0]
    return _SEPARATOR.join(key for key in keys if isinstance(key, str))


def _is_object(value: Any) -> bool:
    # ``dict`` first: a JSON object passes the exact type check without the ABC machinery.
    return isinstance(value, (dict, Mapping))


def _lookup(event: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    """``paths.lookup`` over an already split path."""
    value: Any = event
    for name in names:
        if not isinstance(value, (dict, Mapping)) or name not in value:
            return MISSING
        value = value[name]
    return value


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """One rule that can match, ready to evaluate. ``rule`` is the rule as in the ruleset."""

    kind: str
    rule: Mapping[str, Any]
    conditions: tuple[CompiledCondition, ...]
    # Set when every condition is memoised: the rule's own result is then memoised too.
    memo_key: MemoKey | None
    # v1.7: the body-mention rules "should only be enabled if the event does not have an
    # m.mentions property".
    needs_no_mentions: bool
    actions: tuple[Any, ...]
    notify: bool
    highlight: bool


@dataclass(frozen=True, slots=True)
class CompiledRuleset:
    """A user's rules in evaluation order (override, content, room, sender, underride);
    ``mentioned`` are those that apply to an event with an ``m.mentions`` property."""

    rules: tuple[CompiledRule, ...]
    mentioned: tuple[CompiledRule, ...]


# Conditions -----------------------------------------------------------------------------------


def _event_match(names: tuple[str, ...], pattern: str, word_boundary: bool) -> Test:
    regex = compile_glob(pattern, word_boundary=word_boundary)
    find = regex.search if word_boundary else regex.fullmatch

    def test(ev: EventEvaluator, name: str | None, level: int | float) -> bool:
        # `event_match`: "If the property ... is completely absent from the event, or does not
        # have a string value, then the condition will not match, even if pattern is *."
        value = ev.value(names)
        return isinstance(value, str) and find(value) is not None

    return test


def _property_is(names: tuple[str, ...], expected: Any) -> Test:
    def test(ev: EventEvaluator, name: str | None, level: int | float) -> bool:
        # `event_property_is`: exact match of a non-compound value, no type casting.
        value = ev.value(names)
        return value is not MISSING and same_value(value, expected)

    return test


def _property_contains(names: tuple[str, ...], expected: Any) -> Test:
    def test(ev: EventEvaluator, name: str | None, level: int | float) -> bool:
        # `event_property_contains`: "Array values not of those types are ignored".
        array = ev.value(names)
        if not isinstance(array, list):
            return False
        return any(same_value(item, expected) for item in array)

    return test


def _contains_display_name(ev: EventEvaluator, name: str | None, level: int | float) -> bool:
    # `contains_display_name` (deprecated since v1.17): the recipient's name, literally, between
    # word boundaries of content.body.
    body = ev.value(_BODY)
    if not name or not isinstance(body, str):
        return False
    return contains_literal_words(name, body)


def _member_count(compare: Callable[[int, int], bool], bound: int) -> Test:
    def test(ev: EventEvaluator, name: str | None, level: int | float) -> bool:
        return compare(ev.room_member_count, bound)

    return test


def _sender_permission(key: str) -> Test:
    def test(ev: EventEvaluator, name: str | None, level: int | float) -> bool:
        # `sender_notification_permission`: the sender's level reaches notifications[key].
        return ev.sender_power_level >= required_notification_level(ev.notification_levels, key)

    return test


def _recipient_permission(action: str) -> Test:
    def test(ev: EventEvaluator, name: str | None, level: int | float) -> bool:
        # MSC4506 `recipient_permission`: the recipient's level reaches the action's level.
        required = required_action_level(ev.action_levels, action)
        return required is not None and level >= required

    return test


def _compile_condition(cond: Any) -> CompiledCondition | None:
    """The compiled form of one condition, or None if it can never match (not an object, an
    unknown kind, malformed parameters)."""
    if not _is_object(cond):
        return None
    kind = cond.get("kind")
    if kind in ("event_match", "event_property_is", "event_property_contains"):
        key = cond.get("key")
        if not isinstance(key, str):
            return None
        names = split_path(key)
        if kind == "event_match":
            pattern = cond.get("pattern")
            if not isinstance(pattern, str):
                return None
            # "As a special case, if key is content.body, then pattern must instead match any
            # substring of the value of the property which starts and ends at a word boundary."
            test = _event_match(names, pattern, key == "content.body")
            return _memo_key(kind, key, pattern), test
        if "value" not in cond or not is_simple_value(cond["value"]):
            # A compound (or out of range) value is never equal to anything "without casting".
            return None
        expected = cond["value"]
        memo_key = _memo_key(kind, key, expected)
        if kind == "event_property_is":
            return memo_key, _property_is(names, expected)
        return memo_key, _property_contains(names, expected)
    if kind == "contains_display_name":
        return None, _contains_display_name
    if kind == "room_member_count":
        parsed = parse_member_count(cond.get("is"))
        if parsed is None:
            return None
        return _memo_key(kind, cond["is"]), _member_count(*parsed)
    if kind == "sender_notification_permission":
        key = cond.get("key")
        if not isinstance(key, str):
            return None
        return _memo_key(kind, key), _sender_permission(key)
    if kind == RECIPIENT_PERMISSION:
        action = cond.get("key")
        if not isinstance(action, str) or action not in DEFAULT_ACTION_LEVELS:
            # "any other key never matches"
            return None
        return None, _recipient_permission(action)
    return None


def _room_is(room_id: str) -> Test:
    def test(ev: EventEvaluator, name: str | None, level: int | float) -> bool:
        return room_id == ev.room_id

    return test


def _sender_is(user_id: str) -> Test:
    def test(ev: EventEvaluator, name: str | None, level: int | float) -> bool:
        return user_id == ev.sender

    return test


def _compile_rule(kind: str, rule: Any) -> CompiledRule | None:
    """One rule's compiled form, or None if it can never match."""
    if not _is_object(rule) or not rule.get("enabled", True):
        # "Each rule can be enabled or disabled. Disabled rules never match."
        return None
    rule_id = rule.get("rule_id")
    conditions: list[CompiledCondition] = []
    if kind in ("override", "underride"):
        # "All conditions must hold true ... A rule with no conditions always matches."
        raw = rule.get("conditions", [])
        if not isinstance(raw, list):
            return None
        for cond in raw:
            compiled = _compile_condition(cond)
            if compiled is None:
                return None
            conditions.append(compiled)
    elif kind == "content":
        # Content rules: `pattern` against word runs of content.body, case-insensitively - the
        # same test as `event_match` on `content.body`, so they share its memo key.
        pattern = rule.get("pattern")
        if not isinstance(pattern, str):
            return None
        test = _event_match(_BODY, pattern, True)
        conditions.append((_memo_key("event_match", "content.body", pattern), test))
    elif kind == "room":
        # "The rule_id of a room rule is always the ID of the room that it affects."
        if not isinstance(rule_id, str):
            return None
        conditions.append((None, _room_is(rule_id)))
    elif kind == "sender":
        # "The rule_id of Sender rules is always the Matrix user ID of the user whose messages
        # they'd apply to."
        if not isinstance(rule_id, str):
            return None
        conditions.append((None, _sender_is(rule_id)))
    else:
        return None
    actions = strip_historical_actions(rule.get("actions"))
    notify, highlight = notification_counts_from_actions(actions)
    return CompiledRule(
        kind=kind,
        rule=rule,
        conditions=tuple(conditions),
        memo_key=_rule_key(conditions),
        needs_no_mentions=isinstance(rule_id, str)
        and rule_id in LEGACY_MENTION_RULE_IDS
        and bool(rule.get("default")),
        actions=tuple(actions),
        notify=notify,
        highlight=highlight,
    )


def compile_ruleset(ruleset: Mapping[str, Any]) -> CompiledRuleset:
    """``ruleset`` (``{"global": {kind: [rule, ...]}}`` or the inner mapping) compiled; the
    ruleset must not change afterwards (recompile it instead)."""
    rules = ruleset.get("global", ruleset)
    compiled: list[CompiledRule] = []
    for kind in RULE_KINDS:
        for rule in rules.get(kind, []):
            found = _compile_rule(kind, rule)
            if found is not None:
                compiled.append(found)
    # v1.7: the legacy body-mention rules are skipped for events with m.mentions.
    mentioned = tuple(rule for rule in compiled if not rule.needs_no_mentions)
    return CompiledRuleset(tuple(compiled), mentioned)


# Evaluation -----------------------------------------------------------------------------------


class EventEvaluator:
    """One event's evaluation against the rules of any number of recipients, in one room state.

    Create one per event (the memo assumes the event and the room facts do not change).
    """

    __slots__ = (
        "_memo",
        "_values",
        "action_levels",
        "event",
        "has_mentions",
        "notification_levels",
        "room_id",
        "room_member_count",
        "sender",
        "sender_power_level",
    )

    def __init__(
        self,
        event: Mapping[str, Any],
        *,
        room_member_count: int = 0,
        sender_power_level: int | float = 0,
        notification_levels: Mapping[str, int] = _EMPTY,
        action_levels: Mapping[str, int] = _EMPTY,
    ) -> None:
        self.event = event
        self.room_member_count = room_member_count
        self.sender_power_level = sender_power_level
        self.notification_levels = notification_levels
        self.action_levels = action_levels
        self.sender: object = event.get("sender")
        self.room_id: object = event.get("room_id")
        content = event.get("content")
        self.has_mentions = isinstance(content, (dict, Mapping)) and "m.mentions" in content
        self._memo: dict[MemoKey, bool] = {}
        self._values: dict[tuple[str, ...], Any] = {}

    @classmethod
    def for_context(cls, event: Mapping[str, Any], ctx: PushContext) -> EventEvaluator:
        """An evaluator with the room-wide facts of ``ctx``."""
        return cls(
            event,
            room_member_count=ctx.room_member_count,
            sender_power_level=ctx.sender_power_level,
            notification_levels=ctx.notification_levels,
            action_levels=ctx.action_levels,
        )

    def value(self, names: tuple[str, ...]) -> Any:
        """The event's value at a split dot-separated path, or ``MISSING``."""
        found = self._values.get(names, _UNSET)
        if found is _UNSET:
            found = self._values[names] = _lookup(self.event, names)
        return found

    def match(
        self,
        rules: CompiledRuleset,
        user_id: str,
        *,
        display_name: str | None = None,
        power_level: int | float = 0,
    ) -> CompiledRule | None:
        """The rule that decides for recipient ``user_id``, or None (``first_match``)."""
        if self.sender == user_id:
            # "Homeservers MUST NOT notify the Push Gateway for events that the user has sent
            # themselves."
            return None
        memo = self._memo
        for rule in rules.mentioned if self.has_mentions else rules.rules:
            key = rule.memo_key
            if key is None:
                if self._holds(rule.conditions, display_name, power_level):
                    return rule
                continue
            ok = memo.get(key)
            if ok is None:
                ok = memo[key] = self._holds(rule.conditions, display_name, power_level)
            if ok:
                return rule
        return None

    def _holds(
        self,
        conditions: tuple[CompiledCondition, ...],
        display_name: str | None,
        power_level: int | float,
    ) -> bool:
        """Whether every condition holds ("A rule with no conditions always matches")."""
        memo = self._memo
        for key, test in conditions:
            if key is None:
                if not test(self, display_name, power_level):
                    return False
                continue
            ok = memo.get(key)
            if ok is None:
                ok = memo[key] = test(self, display_name, power_level)
            if not ok:
                return False
        return True

    def evaluate(
        self,
        rules: CompiledRuleset,
        user_id: str,
        *,
        display_name: str | None = None,
        power_level: int | float = 0,
    ) -> list[Any] | None:
        """The actions for the recipient (possibly empty), or None when no rule matches
        (``evaluate``)."""
        rule = self.match(rules, user_id, display_name=display_name, power_level=power_level)
        return None if rule is None else list(rule.actions)
