"""Rule numbers as each room version's page prints them (spec: `content/rooms/v*.md`)."""

from __future__ import annotations

import pytest

from transom.core.auth.numbering import rule_number
from transom.core.room_versions import get_room_version

# (path, {version: number as printed on that version's page})
PINNED: list[tuple[tuple[str | int, ...], dict[str, str]]] = [
    (("create", "creator"), {"1": "1.4", "10": "1.4"}),
    (("create", "allow"), {"1": "1.5", "11": "1.4", "12": "1.5"}),
    (("create", "additional_creators"), {"12": "1.4"}),
    (("room_id",), {"12": "2"}),
    (("auth_events", "has_create"), {"1": "2.4", "11": "2.4"}),
    (("auth_events", "room_id"), {"1": "2.5", "11": "2.5", "12": "3.5"}),
    (("federate",), {"1": "3", "6": "3", "12": "4"}),
    (("aliases", 2), {"1": "4.2", "5": "4.2"}),
    (("member", "unknown"), {"1": "5.6", "6": "4.6", "7": "4.7", "8": "4.8", "12": "5.8"}),
    (("member", "knock", 2), {"7": "4.6.2", "9": "4.7.2", "10": "4.7.2", "12": "5.7.2"}),
    (("member", "authoriser_signed", 1), {"8": "4.2.1", "12": "5.2.1"}),
    (("member", "join", "invite_rule"), {"1": "5.2.4", "7": "4.2.4", "8": "4.3.4", "12": "5.3.4"}),
    (("member", "join", "public"), {"1": "5.2.5", "7": "4.2.5", "8": "4.3.6", "12": "5.3.6"}),
    (("member", "join", "restricted", 2), {"8": "4.3.5.2", "10": "4.3.5.2", "12": "5.3.5.2"}),
    (("member", "invite", 1, 5), {"1": "5.3.1.5", "6": "4.3.1.5", "9": "4.4.1.5", "12": "5.4.1.5"}),
    (("member", "leave", 3), {"1": "5.4.3", "7": "4.4.3", "11": "4.5.3", "12": "5.5.3"}),
    (("member", "ban", 2), {"1": "5.5.2", "6": "4.5.2", "10": "4.6.2", "12": "5.6.2"}),
    (("sender_joined",), {"1": "6", "3": "6", "6": "5", "11": "5", "12": "6"}),
    (("third_party_invite", 1), {"1": "7.1", "6": "6.1", "12": "7.1"}),
    (("required_level",), {"1": "8", "6": "7", "12": "8"}),
    (("user_state_key",), {"1": "9", "6": "8", "12": "9"}),
    (("power_levels", "users"), {"1": "10.1", "6": "9.1", "10": "9.3", "12": "10.3"}),
    (("power_levels", "no_creators"), {"12": "10.4"}),
    (("power_levels", "no_previous"), {"1": "10.2", "9": "9.2", "10": "9.4", "12": "10.5"}),
    (("power_levels", "maps_integers"), {"10": "9.2", "12": "10.2"}),
    (
        ("power_levels", "users_added", 1),
        {"1": "10.7.1", "7": "9.7.1", "11": "9.9.1", "12": "10.10.1"},
    ),
    (("redaction", 3), {"1": "11.3", "2": "11.3"}),
    (("allow",), {"1": "12", "3": "11", "5": "11", "6": "10", "11": "10", "12": "11"}),
]

CASES = [
    pytest.param(path, version, number, id=f"v{version}-{'.'.join(map(str, path))}")
    for path, numbers in PINNED
    for version, number in numbers.items()
]


@pytest.mark.parametrize(("path", "version", "number"), CASES)
def test_rule_number(path: tuple[str | int, ...], version: str, number: str) -> None:
    assert rule_number(get_room_version(version), *path) == number


@pytest.mark.parametrize(
    ("version", "path"),
    [("6", ("aliases",)), ("3", ("redaction",)), ("11", ("room_id",)), ("6", ("member", "knock"))],
)
def test_rules_absent_from_a_version(version: str, path: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        rule_number(get_room_version(version), *path)


def test_no_named_rules_below_a_number() -> None:
    with pytest.raises(ValueError):
        rule_number(get_room_version("12"), "member", "invite", "x")
