"""The server-default push rules (client-server API, "Push Rules" → "Predefined Rules", v1.19),
plus MSC4506's knock rule under its unstable identifier.

``default_rules(user_id)`` returns the ruleset as ``GET /_matrix/client/v3/pushrules/`` serves it
before any user changes. Since v1.17 the legacy rules that looked for mentions in ``body``
(``.m.rule.contains_display_name``, ``.m.rule.roomnotif``, ``.m.rule.contains_user_name``) are no
longer specified; ``legacy_mention_rules=True`` puts them back at their former (v1.7–v1.16)
positions for deployments whose clients still send messages without ``m.mentions``.
Push rules are not room-versioned: the same set applies in every room version.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from .conditions import RECIPIENT_PERMISSION

JsonDict = dict[str, Any]

KNOCK_RULE_ID: Final = ".org.matrix.msc4506.rule.knock"
# v1.7–v1.16: "should only be enabled if the event does not have an m.mentions property".
LEGACY_MENTION_RULE_IDS: Final = frozenset(
    {".m.rule.contains_display_name", ".m.rule.roomnotif", ".m.rule.contains_user_name"}
)
RULE_KINDS: Final = ("override", "content", "room", "sender", "underride")

_SOUND: Final = {"set_tweak": "sound", "value": "default"}
_HIGHLIGHT: Final = {"set_tweak": "highlight"}
_RING: Final = {"set_tweak": "sound", "value": "ring"}


def _rule(rule_id: str, conditions: list[JsonDict], actions: list[Any]) -> JsonDict:
    return {
        "rule_id": rule_id,
        "default": True,
        "enabled": True,
        "conditions": conditions,
        "actions": actions,
    }


def _match(key: str, pattern: str) -> JsonDict:
    return {"kind": "event_match", "key": key, "pattern": pattern}


def _is(key: str, value: Any) -> JsonDict:
    return {"kind": "event_property_is", "key": key, "value": value}


def _override_rules(user_id: str, legacy: bool) -> list[JsonDict]:
    rules = [
        # .m.rule.master: matches everything, disabled by default; always first (see merge).
        {**_rule(".m.rule.master", [], []), "enabled": False},
        # .m.rule.suppress_notices
        _rule(".m.rule.suppress_notices", [_match("content.msgtype", "m.notice")], []),
        # .m.rule.invite_for_me
        _rule(
            ".m.rule.invite_for_me",
            [
                _match("type", "m.room.member"),
                _match("content.membership", "invite"),
                _match("state_key", user_id),
            ],
            ["notify", _SOUND],
        ),
        # MSC4506 .m.rule.knock (unstable .org.matrix.msc4506.rule.knock): "inserted immediately
        # after .m.rule.invite_for_me - and thus before .m.rule.member_event". event_property_is
        # compares values exactly, so the type is "m.room.member" unescaped (escaping with "\."
        # applies to the dot-separated *key* path only, not to values).
        _rule(
            KNOCK_RULE_ID,
            [
                _is("type", "m.room.member"),
                _is("content.membership", "knock"),
                {"kind": RECIPIENT_PERMISSION, "key": "invite"},
            ],
            ["notify", _SOUND],
        ),
        # .m.rule.member_event
        _rule(".m.rule.member_event", [_match("type", "m.room.member")], []),
        # .m.rule.is_user_mention (added in v1.7)
        _rule(
            ".m.rule.is_user_mention",
            [
                {
                    "kind": "event_property_contains",
                    "key": "content.m\\.mentions.user_ids",
                    "value": user_id,
                }
            ],
            ["notify", _SOUND, _HIGHLIGHT],
        ),
    ]
    if legacy:
        # .m.rule.contains_display_name (v1.0–v1.16; deprecated in v1.7, removed in v1.17)
        rules.append(
            _rule(
                ".m.rule.contains_display_name",
                [{"kind": "contains_display_name"}],
                ["notify", _SOUND, _HIGHLIGHT],
            )
        )
    # .m.rule.is_room_mention (added in v1.7)
    rules.append(
        _rule(
            ".m.rule.is_room_mention",
            [
                _is("content.m\\.mentions.room", True),
                {"kind": "sender_notification_permission", "key": "room"},
            ],
            ["notify", _HIGHLIGHT],
        )
    )
    if legacy:
        # .m.rule.roomnotif (v1.0–v1.16; deprecated in v1.7, removed in v1.17)
        rules.append(
            _rule(
                ".m.rule.roomnotif",
                [
                    _match("content.body", "@room"),
                    {"kind": "sender_notification_permission", "key": "room"},
                ],
                ["notify", _HIGHLIGHT],
            )
        )
    rules += [
        # .m.rule.tombstone: an explicit state_key condition, as there is no implicit one.
        _rule(
            ".m.rule.tombstone",
            [_match("type", "m.room.tombstone"), _match("state_key", "")],
            ["notify", _HIGHLIGHT],
        ),
        # .m.rule.reaction (added in v1.7)
        _rule(".m.rule.reaction", [_match("type", "m.reaction")], []),
        # .m.rule.room.server_acl (added in v1.4)
        _rule(
            ".m.rule.room.server_acl",
            [_match("type", "m.room.server_acl"), _match("state_key", "")],
            [],
        ),
        # .m.rule.suppress_edits (added in v1.9)
        _rule(
            ".m.rule.suppress_edits",
            [_is("content.m\\.relates_to.rel_type", "m.replace")],
            [],
        ),
    ]
    return rules


def _content_rules(user_id: str, legacy: bool) -> list[JsonDict]:
    if not legacy:
        return []
    # .m.rule.contains_user_name (v1.0–v1.16; deprecated in v1.7, removed in v1.17): a content
    # rule whose pattern is "[the local part of the user's Matrix ID]".
    localpart = user_id[1:].split(":", 1)[0]
    return [
        {
            "rule_id": ".m.rule.contains_user_name",
            "default": True,
            "enabled": True,
            "pattern": localpart,
            "actions": ["notify", _SOUND, _HIGHLIGHT],
        }
    ]


def _underride_rules() -> list[JsonDict]:
    return [
        # .m.rule.call
        _rule(".m.rule.call", [_match("type", "m.call.invite")], ["notify", _RING]),
        # .m.rule.encrypted_room_one_to_one
        _rule(
            ".m.rule.encrypted_room_one_to_one",
            [{"kind": "room_member_count", "is": "2"}, _match("type", "m.room.encrypted")],
            ["notify", _SOUND],
        ),
        # .m.rule.room_one_to_one
        _rule(
            ".m.rule.room_one_to_one",
            [{"kind": "room_member_count", "is": "2"}, _match("type", "m.room.message")],
            ["notify", _SOUND],
        ),
        # .m.rule.message
        _rule(".m.rule.message", [_match("type", "m.room.message")], ["notify"]),
        # .m.rule.encrypted
        _rule(".m.rule.encrypted", [_match("type", "m.room.encrypted")], ["notify"]),
    ]


def default_rules(user_id: str, *, legacy_mention_rules: bool = False) -> JsonDict:
    """The full default ruleset for ``user_id``, as ``{"global": {kind: [rule, ...]}}``.

    Every call returns fresh, independent JSON the caller may modify.
    """
    ruleset = {
        "override": _override_rules(user_id, legacy_mention_rules),
        "content": _content_rules(user_id, legacy_mention_rules),
        "room": [],
        "sender": [],
        "underride": _underride_rules(),
    }
    # Tweaks are shared module constants above; copy so callers can never alter them.
    return {"global": copy.deepcopy(ruleset)}
