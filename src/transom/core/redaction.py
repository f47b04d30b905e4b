"""The redaction algorithm (client-server API "Redactions"; room versions' "Redactions" sections).

Fragments ``v1-redactions`` (v1–v5), ``v6-redactions`` (v6, v7), v8's own list (v8),
``v9-redactions`` (v9, v10) and ``v11-redactions`` (v11, v12). The rule set of a room version is
``RoomVersion.redaction``. Redaction is also the first step of signing, of checking signatures and
of the reference hash, so it must match every other server byte for byte.
"""

from __future__ import annotations

from typing import Any

from transom.core.events import JsonDict
from transom.core.room_versions import RedactionRules, RoomVersion

# Top-level keys kept by every rule set (all fragments).
_COMMON_TOP_LEVEL = frozenset(
    {
        "event_id",
        "type",
        "room_id",
        "sender",
        "state_key",
        "content",
        "hashes",
        "signatures",
        "depth",
        "prev_events",
        "auth_events",
        "origin_server_ts",
    }
)
# v1–v10: `prev_state`, `origin` and `membership` are also kept. v11 stops protecting them
# (v11 "Redactions": "The top-level origin, membership, and prev_state properties are no longer
# protected from redaction").
_PRE_V11_TOP_LEVEL = _COMMON_TOP_LEVEL | {"prev_state", "origin", "membership"}

_POWER_LEVELS_V1 = frozenset(
    {"ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default"}
)

# Content keys kept per event type, per rule set.
_CONTENT_V1: dict[str, frozenset[str]] = {
    "m.room.member": frozenset({"membership"}),
    "m.room.create": frozenset({"creator"}),
    "m.room.join_rules": frozenset({"join_rule"}),
    "m.room.power_levels": _POWER_LEVELS_V1,
    # v1–v5 only: m.room.aliases keeps `aliases` (dropped by v6-redactions).
    "m.room.aliases": frozenset({"aliases"}),
    "m.room.history_visibility": frozenset({"history_visibility"}),
}
# v6, v7: as v1 without the m.room.aliases special case.
_CONTENT_V6 = {k: v for k, v in _CONTENT_V1.items() if k != "m.room.aliases"}
# v8: join_rules also keep `allow` (v8 "Redactions").
_CONTENT_V8 = {**_CONTENT_V6, "m.room.join_rules": frozenset({"join_rule", "allow"})}
# v9, v10: member events also keep `join_authorised_via_users_server` (v9-redactions).
_CONTENT_V9 = {
    **_CONTENT_V8,
    "m.room.member": frozenset({"membership", "join_authorised_via_users_server"}),
}
# v11, v12: power levels keep `invite`, redactions keep `redacts`; create keeps everything and
# member keeps `third_party_invite.signed` (handled in `_redact_content`).
_CONTENT_V11 = {
    **_CONTENT_V9,
    "m.room.power_levels": _POWER_LEVELS_V1 | {"invite"},
    "m.room.redaction": frozenset({"redacts"}),
}

_CONTENT_RULES: dict[RedactionRules, dict[str, frozenset[str]]] = {
    RedactionRules.V1: _CONTENT_V1,
    RedactionRules.V6: _CONTENT_V6,
    RedactionRules.V8: _CONTENT_V8,
    RedactionRules.V9: _CONTENT_V9,
    RedactionRules.V11: _CONTENT_V11,
}


def redact(pdu: JsonDict, room_version: RoomVersion) -> JsonDict:
    """Return a new dict holding only what the room version's redaction algorithm keeps.

    The input is not modified. Kept values are shared with the input, not copied, except
    ``content`` which is always a new dict.
    """
    rules = room_version.redaction
    allowed_top = _COMMON_TOP_LEVEL if rules is RedactionRules.V11 else _PRE_V11_TOP_LEVEL
    redacted: JsonDict = {key: value for key, value in pdu.items() if key in allowed_top}
    content = pdu.get("content")
    event_type = pdu.get("type")
    redacted["content"] = _redact_content(
        event_type if isinstance(event_type, str) else "",
        content if isinstance(content, dict) else {},
        rules,
    )
    return redacted


def _redact_content(event_type: str, content: dict[str, Any], rules: RedactionRules) -> JsonDict:
    if rules is RedactionRules.V11 and event_type == "m.room.create":
        # v11-redactions: m.room.create allows all keys.
        return dict(content)
    allowed = _CONTENT_RULES[rules].get(event_type, frozenset())
    kept: JsonDict = {key: value for key, value in content.items() if key in allowed}
    if rules is RedactionRules.V11 and event_type == "m.room.member":
        # v11-redactions: member events keep the `signed` key of `third_party_invite`.
        invite = content.get("third_party_invite")
        if isinstance(invite, dict) and "signed" in invite:
            kept["third_party_invite"] = {"signed": invite["signed"]}
    return kept
