"""Push rule conditions (client-server API, "Push Rules" → "Conditions"), plus MSC4506's
``org.matrix.msc4506.recipient_permission`` (unstable identifier of ``recipient_permission``).

Every condition is a pure function of the condition JSON, the event and a ``PushContext``.
"Unrecognised conditions MUST NOT match any events", and neither do malformed ones (a missing
``key``, a non-string ``pattern``, an unparsable ``is``): a rule holding one never fires.
Push rules are not room-versioned; these rules apply in every room version.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from .context import PushContext
from .globbing import contains_literal_words, glob_matches
from .paths import MISSING, lookup

Condition = Mapping[str, Any]
ConditionFn = Callable[[Condition, Mapping[str, Any], PushContext], bool]

RECIPIENT_PERMISSION: Final = "org.matrix.msc4506.recipient_permission"

# "integers in the range of [-(2**53)+1, (2**53)-1]" (canonical JSON, as cited by
# event_property_is / event_property_contains).
_MAX_SAFE_INT: Final = 2**53 - 1


def is_simple_value(value: Any) -> bool:
    """A non-compound canonical JSON value: string, in-range integer, boolean or null."""
    if value is None or isinstance(value, bool | str):
        return True
    return isinstance(value, int) and -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT


def same_value(a: Any, b: Any) -> bool:
    """Exact equality without casting: ``True`` is not ``1`` and ``"1"`` is not ``1``."""
    return is_simple_value(a) and is_simple_value(b) and type(a) is type(b) and a == b


def event_match(cond: Condition, event: Mapping[str, Any], ctx: PushContext) -> bool:
    """`event_match`: glob on the whole value, or on word runs of `content.body`."""
    key, pattern = cond.get("key"), cond.get("pattern")
    if not isinstance(key, str) or not isinstance(pattern, str):
        return False
    value = lookup(event, key)
    # "If the property ... is completely absent from the event, or does not have a string value,
    # then the condition will not match, even if pattern is *."
    if not isinstance(value, str):
        return False
    # "As a special case, if key is content.body, then pattern must instead match any substring
    # of the value of the property which starts and ends at a word boundary."
    return glob_matches(pattern, value, word_boundary=key == "content.body")


def event_property_is(cond: Condition, event: Mapping[str, Any], ctx: PushContext) -> bool:
    """`event_property_is`: exact match of a non-compound value (no type casting)."""
    key = cond.get("key")
    if not isinstance(key, str) or "value" not in cond:
        return False
    value = lookup(event, key)
    return value is not MISSING and same_value(value, cond["value"])


def event_property_contains(cond: Condition, event: Mapping[str, Any], ctx: PushContext) -> bool:
    """`event_property_contains`: an array property holds the value exactly."""
    key = cond.get("key")
    if not isinstance(key, str) or "value" not in cond:
        return False
    array = lookup(event, key)
    if not isinstance(array, list):
        return False
    # "Array values not of those types are ignored" - same_value rejects them.
    return any(same_value(item, cond["value"]) for item in array)


def contains_display_name(cond: Condition, event: Mapping[str, Any], ctx: PushContext) -> bool:
    """`contains_display_name` (deprecated since v1.17): the body names the recipient."""
    body = lookup(event, "content.body")
    name = ctx.user_display_name
    if not isinstance(body, str) or not name:
        return False
    # The display name is matched literally, between word boundaries, case-insensitively - the
    # same word-boundary notion as `event_match` on `content.body`.
    return contains_literal_words(name, body)


_MEMBER_COUNT = re.compile(r"(==|<=|>=|<|>)?([0-9]+)")
_COMPARISONS: Final[Mapping[str, Callable[[int, int], bool]]] = {
    "==": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


# Any room's member count is below this; a longer number compares as this bound (the same result
# for every operator), so ``int`` never sees thousands of digits (it refuses over 4300).
_COUNT_BOUND: Final = 10**15


def parse_member_count(spec: Any) -> tuple[Callable[[int, int], bool], int] | None:
    """The comparison and bound of a `room_member_count` ``is`` ("A decimal integer optionally
    prefixed by one of ==, <, >, >= or <="; no prefix means ``==``), or None if malformed."""
    if not isinstance(spec, str):
        return None
    match = _MEMBER_COUNT.fullmatch(spec)
    if match is None:
        return None
    digits = match.group(2).lstrip("0")
    bound = _COUNT_BOUND if len(digits) > 15 else int(digits or "0")
    return _COMPARISONS[match.group(1) or "=="], bound


def room_member_count(cond: Condition, event: Mapping[str, Any], ctx: PushContext) -> bool:
    """`room_member_count`: the room's joined member count compared with ``is``."""
    parsed = parse_member_count(cond.get("is"))
    if parsed is None:
        return False
    compare, bound = parsed
    return compare(ctx.room_member_count, bound)


def sender_notification_permission(
    cond: Condition, event: Mapping[str, Any], ctx: PushContext
) -> bool:
    """`sender_notification_permission`: the sender's level reaches ``notifications[key]``."""
    key = cond.get("key")
    if not isinstance(key, str):
        return False
    return ctx.sender_power_level >= ctx.required_notification_level(key)


def recipient_permission(cond: Condition, event: Mapping[str, Any], ctx: PushContext) -> bool:
    """MSC4506 `recipient_permission`: the recipient's level reaches the level required for the
    action named by ``key`` (``invite``, ``kick``, ``ban`` or ``redact``); any other key never
    matches."""
    key = cond.get("key")
    if not isinstance(key, str):
        return False
    required = ctx.required_action_level(key)
    return required is not None and ctx.recipient_power_level >= required


CONDITIONS: Final[Mapping[str, ConditionFn]] = {
    "event_match": event_match,
    "event_property_is": event_property_is,
    "event_property_contains": event_property_contains,
    "contains_display_name": contains_display_name,
    "room_member_count": room_member_count,
    "sender_notification_permission": sender_notification_permission,
    RECIPIENT_PERMISSION: recipient_permission,
}


def condition_matches(cond: Any, event: Mapping[str, Any], ctx: PushContext) -> bool:
    """Whether one condition holds; unknown kinds and malformed conditions never match."""
    if not isinstance(cond, Mapping):
        return False
    kind = cond.get("kind")
    check = CONDITIONS.get(kind) if isinstance(kind, str) else None
    return check is not None and check(cond, event, ctx)
