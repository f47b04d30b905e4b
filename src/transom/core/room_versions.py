"""Room versions 1 to 12 as data (spec: "Room Versions", `content/rooms/v1.md` … `v12.md`).

Code never compares version strings: it reads the capability flags of a ``RoomVersion``. Each flag
names the version that introduced it. ``tests/core/test_room_versions.py`` pins every flag for every
version.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from transom.core.errors import UnsupportedRoomVersion


class EventFormat(Enum):
    """PDU shape (server-server API, "PDUs" and the room versions' "Event format" sections)."""

    V1 = 1  # v1, v2: `event_id` inside the event; prev/auth events are [event_id, hashes] pairs
    V3 = 3  # v3–v10: event IDs are reference hashes; prev/auth events are lists of event IDs
    V11 = 11  # v11: as V3 (redacts moves into content, create.content.creator dropped)
    V12 = 12  # v12: as V11, the create event has no room_id; room ID = `!` + create's hash


class EventIdFormat(Enum):
    """How event IDs are made (room versions' "Event IDs" sections)."""

    SERVER_ASSIGNED = 1  # v1, v2: `$opaque_id:domain`
    REFERENCE_HASH_BASE64 = 3  # v3: `$` + standard unpadded base64 of the reference hash
    REFERENCE_HASH_URLSAFE = 4  # v4+: `$` + URL-safe unpadded base64 of the reference hash


class StateResAlgorithm(Enum):
    """State resolution algorithm (room versions' "State resolution" sections)."""

    V1 = 1  # v1 only
    V2 = 2  # v2–v11
    V2_1 = 21  # v12: v2 with the conflicted state subgraph and an empty starting state


class RedactionRules(Enum):
    """Redaction algorithm (room versions' "Redactions" sections)."""

    V1 = 1  # v1–v5: keeps m.room.aliases `aliases`
    V6 = 6  # v6, v7: drops the m.room.aliases special case
    V8 = 8  # v8: keeps join_rules `allow`
    V9 = 9  # v9, v10: keeps member `join_authorised_via_users_server`
    V11 = 11  # v11, v12: create keeps all content, `invite` in power levels, redaction `redacts`


@dataclass(frozen=True, slots=True)
class RoomVersion:
    """Every rule that differs between room versions, as a flag or an enum."""

    identifier: str
    stable: bool
    event_format: EventFormat
    event_id_format: EventIdFormat
    state_res: StateResAlgorithm
    redaction: RedactionRules
    # v1–v5: `m.room.aliases` has its own auth rule (rule 4 of the v1 rules). Removed in v6.
    special_case_aliases_auth: bool
    # v5+: signing keys must be valid at the event's origin_server_ts (key validity).
    enforce_key_validity: bool
    # v6+: canonical JSON is strict: no floats, integers within ±(2**53 - 1) (v6).
    strict_canonical_json: bool
    # v6+: power-level changes to `notifications` are checked like `events` (v6 rule 10).
    limit_notifications_power_levels: bool
    # v7+: `knock` membership and join rule (v7 "Authorization rules", rule 4.7 in v7's numbering).
    knocking: bool
    # v8+: `restricted` join rule with `join_authorised_via_users_server`.
    restricted_join: bool
    # v10+: `knock_restricted` join rule.
    knock_restricted: bool
    # v10+: power level values must be integers, not strings (v10 auth rule on power levels).
    integer_power_levels: bool
    # v11+: the room creator is the create event's `sender`; `content.creator` is not required.
    implicit_room_creator: bool
    # v11+: `redacts` lives in `content` of m.room.redaction events.
    redacts_in_content: bool
    # v12: room ID is `!` + the create event's reference hash; the create event has no room_id and
    # is not cited in auth_events.
    room_id_is_create_hash: bool
    # v12: the create event's sender and `additional_creators` have infinite power level.
    privileged_creators: bool

    @property
    def knock_join_rules(self) -> frozenset[str]:
        """The join rules under which `knock` membership is allowed (v7+: knock; v10+: both)."""
        rules: set[str] = set()
        if self.knocking:
            rules.add("knock")
        if self.knock_restricted:
            rules.add("knock_restricted")
        return frozenset(rules)


V1 = RoomVersion(
    identifier="1",
    stable=True,
    event_format=EventFormat.V1,
    event_id_format=EventIdFormat.SERVER_ASSIGNED,
    state_res=StateResAlgorithm.V1,
    redaction=RedactionRules.V1,
    special_case_aliases_auth=True,
    enforce_key_validity=False,
    strict_canonical_json=False,
    limit_notifications_power_levels=False,
    knocking=False,
    restricted_join=False,
    knock_restricted=False,
    integer_power_levels=False,
    implicit_room_creator=False,
    redacts_in_content=False,
    room_id_is_create_hash=False,
    privileged_creators=False,
)
# v2 = v1 with state resolution v2.
V2 = replace(V1, identifier="2", state_res=StateResAlgorithm.V2)
# v3 = v2 with reference-hash event IDs (standard base64) and the new event format.
V3 = replace(
    V2,
    identifier="3",
    event_format=EventFormat.V3,
    event_id_format=EventIdFormat.REFERENCE_HASH_BASE64,
)
# v4 = v3 with URL-safe event IDs.
V4 = replace(V3, identifier="4", event_id_format=EventIdFormat.REFERENCE_HASH_URLSAFE)
# v5 = v4 with signing-key validity enforced.
V5 = replace(V4, identifier="5", enforce_key_validity=True)
# v6 = v5: strict canonical JSON, no aliases auth rule, notifications power level, redaction v6.
V6 = replace(
    V5,
    identifier="6",
    special_case_aliases_auth=False,
    strict_canonical_json=True,
    limit_notifications_power_levels=True,
    redaction=RedactionRules.V6,
)
# v7 = v6 plus knocking.
V7 = replace(V6, identifier="7", knocking=True)
# v8 = v7 plus restricted joins.
V8 = replace(V7, identifier="8", restricted_join=True, redaction=RedactionRules.V8)
# v9 = v8 with `join_authorised_via_users_server` kept by redaction.
V9 = replace(V8, identifier="9", redaction=RedactionRules.V9)
# v10 = v9 plus knock_restricted and integer-only power levels.
V10 = replace(V9, identifier="10", knock_restricted=True, integer_power_levels=True)
# v11 = v10 with implicit creator, redacts in content, new redaction rules.
V11 = replace(
    V10,
    identifier="11",
    event_format=EventFormat.V11,
    redaction=RedactionRules.V11,
    implicit_room_creator=True,
    redacts_in_content=True,
)
# v12 = v11 with hashed room IDs, privileged creators and state resolution v2.1.
V12 = replace(
    V11,
    identifier="12",
    event_format=EventFormat.V12,
    state_res=StateResAlgorithm.V2_1,
    room_id_is_create_hash=True,
    privileged_creators=True,
)

KNOWN_ROOM_VERSIONS: dict[str, RoomVersion] = {
    v.identifier: v for v in (V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12)
}


def get_room_version(identifier: str) -> RoomVersion:
    """Look up a room version; unknown ones raise ``UnsupportedRoomVersion``."""
    try:
        return KNOWN_ROOM_VERSIONS[identifier]
    except (KeyError, TypeError):
        raise UnsupportedRoomVersion(f"Unsupported room version: {identifier!r}") from None
