"""Push rule actions (client-server API, "Push Rules" → "Actions" and "Historical Actions").

``notify`` makes a notification; ``{"set_tweak": name, "value": v}`` sets a tweak for the push
gateway. A ``highlight`` tweak without a value means ``true``; no highlight tweak means ``false``.
The historical ``dont_notify`` and ``coalesce`` actions "MUST" be ignored, i.e. stripped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

HISTORICAL_ACTIONS: Final = frozenset({"dont_notify", "coalesce"})


def strip_historical_actions(actions: Any) -> list[Any]:
    """The actions with ``dont_notify`` and ``coalesce`` removed (a non-list reads as empty)."""
    if not isinstance(actions, list):
        return []
    return [a for a in actions if not (isinstance(a, str) and a in HISTORICAL_ACTIONS)]


def tweaks_from_actions(actions: Iterable[Any]) -> dict[str, Any]:
    """The ``tweaks`` dictionary to send to the push gateway; later tweaks win."""
    tweaks: dict[str, Any] = {}
    for action in actions:
        if not isinstance(action, Mapping):
            continue
        name = action.get("set_tweak")
        if not isinstance(name, str):
            continue
        if "value" in action:
            tweaks[name] = action["value"]
        elif name == "highlight":
            # "If a highlight tweak is given with no value, its value is defined to be true."
            tweaks[name] = True
    return tweaks


def notification_counts_from_actions(actions: Iterable[Any]) -> tuple[bool, bool]:
    """``(notify, highlight)`` for one event's actions, for the unread notification counts.

    A highlight counts only with ``notify``: a highlight count is a count of notifications.
    """
    actions = list(actions)
    notify = "notify" in actions
    highlight = tweaks_from_actions(actions).get("highlight", False) is True
    return notify, notify and highlight
