"""Every flag of every room version, pinned (room versions v1–v12; architecture guide habit 4).

One row per version, one column per ``RoomVersion`` field, so a change to any flag fails here and
must be made on purpose. The values follow ``content/rooms/v1.md`` … ``v12.md``.
"""

from __future__ import annotations

from dataclasses import fields

import pytest

from transom.core.errors import UnsupportedRoomVersion
from transom.core.room_versions import (
    KNOWN_ROOM_VERSIONS,
    EventFormat,
    EventIdFormat,
    RedactionRules,
    RoomVersion,
    StateResAlgorithm,
    get_room_version,
)

COLUMNS = (
    "identifier",
    "stable",
    "event_format",
    "event_id_format",
    "state_res",
    "redaction",
    "special_case_aliases_auth",
    "enforce_key_validity",
    "strict_canonical_json",
    "limit_notifications_power_levels",
    "knocking",
    "restricted_join",
    "knock_restricted",
    "integer_power_levels",
    "implicit_room_creator",
    "redacts_in_content",
    "room_id_is_create_hash",
    "privileged_creators",
)
F1, F3, F11, F12 = EventFormat.V1, EventFormat.V3, EventFormat.V11, EventFormat.V12
SRV, B64, URL = (
    EventIdFormat.SERVER_ASSIGNED,
    EventIdFormat.REFERENCE_HASH_BASE64,
    EventIdFormat.REFERENCE_HASH_URLSAFE,
)
S1, S2, S21 = StateResAlgorithm.V1, StateResAlgorithm.V2, StateResAlgorithm.V2_1
R1, R6, R8, R9, R11 = (
    RedactionRules.V1,
    RedactionRules.V6,
    RedactionRules.V8,
    RedactionRules.V9,
    RedactionRules.V11,
)
T, F = True, False

# fmt: off
TABLE = [
    # identifier, stable, event_format, event_id_format, state_res, redaction, aliases_auth,
    # key_validity, strict_json, notifications, knocking, restricted, knock_restricted,
    # integer_pl, implicit_creator, redacts_in_content, room_id_hash, privileged_creators
    ("1",T,F1,SRV,S1,R1,T,F,F,F,F,F,F,F,F,F,F,F),
    ("2",T,F1,SRV,S2,R1,T,F,F,F,F,F,F,F,F,F,F,F),
    ("3",T,F3,B64,S2,R1,T,F,F,F,F,F,F,F,F,F,F,F),
    ("4",T,F3,URL,S2,R1,T,F,F,F,F,F,F,F,F,F,F,F),
    ("5",T,F3,URL,S2,R1,T,T,F,F,F,F,F,F,F,F,F,F),
    ("6",T,F3,URL,S2,R6,F,T,T,T,F,F,F,F,F,F,F,F),
    ("7",T,F3,URL,S2,R6,F,T,T,T,T,F,F,F,F,F,F,F),
    ("8",T,F3,URL,S2,R8,F,T,T,T,T,T,F,F,F,F,F,F),
    ("9",T,F3,URL,S2,R9,F,T,T,T,T,T,F,F,F,F,F,F),
    ("10",T,F3,URL,S2,R9,F,T,T,T,T,T,T,T,F,F,F,F),
    ("11",T,F11,URL,S2,R11,F,T,T,T,T,T,T,T,T,T,F,F),
    ("12",T,F12,URL,S21,R11,F,T,T,T,T,T,T,T,T,T,T,T),
]
# fmt: on


def test_table_covers_every_field_and_version() -> None:
    assert tuple(field.name for field in fields(RoomVersion)) == COLUMNS
    assert [row[0] for row in TABLE] == list(KNOWN_ROOM_VERSIONS)


@pytest.mark.parametrize("row", TABLE, ids=lambda row: f"v{row[0]}")
def test_every_flag(row: tuple[object, ...]) -> None:
    room_version = get_room_version(str(row[0]))
    assert {name: getattr(room_version, name) for name in COLUMNS} == dict(
        zip(COLUMNS, row, strict=True)
    )


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ("6", frozenset()),
        ("7", frozenset({"knock"})),
        ("9", frozenset({"knock"})),
        ("10", frozenset({"knock", "knock_restricted"})),
        ("12", frozenset({"knock", "knock_restricted"})),
    ],
)
def test_knock_join_rules(identifier: str, expected: frozenset[str]) -> None:
    assert get_room_version(identifier).knock_join_rules == expected


@pytest.mark.parametrize("identifier", ["0", "13", "1.0", "", "org.example.custom", " 1"])
def test_unknown_versions_are_unsupported(identifier: str) -> None:
    with pytest.raises(UnsupportedRoomVersion):
        get_room_version(identifier)


def test_lookup_of_a_non_string_is_unsupported() -> None:
    with pytest.raises(UnsupportedRoomVersion):
        get_room_version(["1"])  # type: ignore[arg-type]


def test_room_versions_are_immutable() -> None:
    with pytest.raises(AttributeError):
        get_room_version("7").knocking = False  # type: ignore[misc]
