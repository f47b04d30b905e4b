"""What push rule conditions need to know beyond the event itself (client-server API,
"Push Rules" → "Conditions"; MSC4506 "Push rules for knocking").

The evaluator is pure, so the caller (the push service) reads the room's state at the event and
hands the results over in a ``PushContext``: the recipient's identity and display name, the member
count, both users' power levels and the room's required levels. Levels are plain numbers; room
version parsing of power levels (strings in v1–v9, creators' infinite level in v12) is done by the
caller, e.g. with ``transom.core.auth.power_levels``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

# m.room.power_levels schema: "notifications.room: The level required to trigger an @room
# notification. Defaults to 50 if unspecified." Other notification keys have no specified default;
# 50 is used for them as well (the level of a moderator, like `room`).
DEFAULT_NOTIFICATION_LEVEL: Final = 50

# m.room.power_levels schema defaults for the action levels MSC4506's `recipient_permission` reads:
# invite 0; kick, ban and redact 50.
DEFAULT_ACTION_LEVELS: Final[Mapping[str, int]] = MappingProxyType(
    {"invite": 0, "kick": 50, "ban": 50, "redact": 50}
)


def _empty() -> Mapping[str, int]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class PushContext:
    """The recipient-side and room-side facts push rules are evaluated against.

    ``notification_levels`` is the ``notifications`` object of the room's power levels (missing keys
    take their default); ``action_levels`` holds the levels required to ``invite``, ``kick``,
    ``ban`` and ``redact`` (missing keys take the m.room.power_levels defaults).
    """

    user_id: str
    user_display_name: str | None = None
    room_member_count: int = 0
    sender_power_level: int | float = 0
    recipient_power_level: int | float = 0
    notification_levels: Mapping[str, int] = field(default_factory=_empty)
    action_levels: Mapping[str, int] = field(default_factory=_empty)

    def required_notification_level(self, key: str) -> int:
        """The level a sender needs to trigger a notification of type ``key``."""
        return required_notification_level(self.notification_levels, key)

    def required_action_level(self, action: str) -> int | None:
        """The level needed to perform ``action``, or None if it is not a known action."""
        return required_action_level(self.action_levels, action)


def required_notification_level(notification_levels: Mapping[str, int], key: str) -> int:
    """The level a sender needs to trigger a notification of type ``key``, given the room's
    ``notifications`` levels (missing or non-integer entries take the default)."""
    level = notification_levels.get(key)
    if isinstance(level, int) and not isinstance(level, bool):
        return level
    return DEFAULT_NOTIFICATION_LEVEL


def required_action_level(action_levels: Mapping[str, int], action: str) -> int | None:
    """The level needed to perform ``action`` (``invite``, ``kick``, ``ban`` or ``redact``), or
    None if it is not one of them."""
    if action not in DEFAULT_ACTION_LEVELS:
        return None
    level = action_levels.get(action)
    if isinstance(level, int) and not isinstance(level, bool):
        return level
    return DEFAULT_ACTION_LEVELS[action]
