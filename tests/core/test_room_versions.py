"""Every flag of every room version (room versions v1 … v12), pinned as a table."""

from __future__ import annotations

import dataclasses

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

F = False
T = True
E = EventFormat
I = EventIdFormat  # noqa: E741
S = StateResAlgorithm
R = RedactionRules

COLUMNS = (
    "stable", "event_format", "event_id_format", "state_res", "redaction",
    "special_case_aliases_auth", "enforce_key_validity", "strict_canonical_json",
    "limit_notifications_power_levels", "knocking", "restricted_join", "knock_restricted",
    "integer_power_levels", "implicit_room_creator", "redacts_in_content",
    "room_id_is_create_hash", "privileged_creators",
)  # fmt: skip

# fmt: off
TABLE: dict[str, tuple[object, ...]] = {
    # columns in COLUMNS order: stable, formats, state res, redaction, then the booleans
    "1":  (T, E.V1, I.SERVER_ASSIGNED, S.V1, R.V1, T, F, F, F, F, F, F, F, F, F, F, F),
    "2":  (T, E.V1, I.SERVER_ASSIGNED, S.V2, R.V1, T, F, F, F, F, F, F, F, F, F, F, F),
    "3":  (T, E.V3, I.REFERENCE_HASH_BASE64, S.V2, R.V1, T, F, F, F, F, F, F, F, F, F, F, F),
    "4":  (T, E.V3, I.REFERENCE_HASH_URLSAFE, S.V2, R.V1, T, F, F, F, F, F, F, F, F, F, F, F),
    "5":  (T, E.V3, I.REFERENCE_HASH_URLSAFE, S.V2, R.V1, T, T, F, F, F, F, F, F, F, F, F, F),
    "6":  (T, E.V3, I.REFERENCE_HASH_URLSAFE, S.V2, R.V6, F, T, T, T, F, F, F, F, F, F, F, F),
    "7":  (T, E.V3, I.REFERENCE_HASH_URLSAFE, S.V2, R.V6, F, T, T, T, T, F, F, F, F, F, F, F),
    "8":  (T, E.V3, I.REFERENCE_HASH_URLSAFE, S.V2, R.V8, F, T, T, T, T, T, F, F, F, F, F, F),
    "9":  (T, E.V3, I.REFERENCE_HASH_URLSAFE, S.V2, R.V9, F, T, T, T, T, T, F, F, F, F, F, F),
    "10": (T, E.V3, I.REFERENCE_HASH_URLSAFE, S.V2, R.V9, F, T, T, T, T, T, T, T, F, F, F, F),
    "11": (T, E.V11, I.REFERENCE_HASH_URLSAFE, S.V2, R.V11, F, T, T, T, T, T, T, T, T, T, F, F),
    "12": (T, E.V12, I.REFERENCE_HASH_URLSAFE, S.V2_1, R.V11, F, T, T, T, T, T, T, T, T, T, T, T),
}
# fmt: on


def test_table_covers_every_field_and_version() -> None:
    fields = [f.name for f in dataclasses.fields(RoomVersion) if f.name != "identifier"]
    assert list(COLUMNS) == fields
    assert list(KNOWN_ROOM_VERSIONS) == list(TABLE)


@pytest.mark.parametrize("identifier", list(TABLE))
def test_flags(identifier: str) -> None:
    version = get_room_version(identifier)
    assert version.identifier == identifier
    actual = tuple(getattr(version, column) for column in COLUMNS)
    assert dict(zip(COLUMNS, actual, strict=True)) == dict(
        zip(COLUMNS, TABLE[identifier], strict=True)
    )


def test_knock_join_rules() -> None:
    expected = {
        **{v: frozenset() for v in ("1", "2", "3", "4", "5", "6")},
        **{v: frozenset({"knock"}) for v in ("7", "8", "9")},
        **{v: frozenset({"knock", "knock_restricted"}) for v in ("10", "11", "12")},
    }
    for identifier, rules in expected.items():
        assert get_room_version(identifier).knock_join_rules == rules


@pytest.mark.parametrize("identifier", ["0", "13", "org.example.custom", "", None, 7])
def test_unknown_versions(identifier: object) -> None:
    with pytest.raises(UnsupportedRoomVersion):
        get_room_version(identifier)  # type: ignore[arg-type]


def test_versions_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_room_version("7").knocking = False  # type: ignore[misc]
