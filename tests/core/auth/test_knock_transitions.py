"""Every membership transition into and out of ``knock``, in room versions 6, 7, 9, 10, 11, 12
(spec: room versions' "Authorization rules", membership rules). The table is the JSON vector file
``tests/core/vectors/auth/knock_transitions.json``; its ``description`` explains the columns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from transom.core.auth import check_auth
from transom.core.auth.numbering import rule_number
from transom.core.room_versions import get_room_version

from .auth_helpers import ALICE, CREATOR, LOW, MOD, OUT, Room, default_power_levels

TABLE = Path(__file__).parents[1] / "vectors" / "auth" / "knock_transitions.json"
ROWS: list[dict[str, Any]] = json.loads(TABLE.read_text())["rows"]
USERS = {"alice": ALICE, "mod": MOD, "low": LOW, "out": OUT, "creator": CREATOR}
CASES = [
    pytest.param(version, row, id=f"v{version}-{row['label']}")
    for row in ROWS
    for version in row["versions"]
]


def _room(version: int, row: dict[str, Any]) -> Room:
    rv = get_room_version(str(version))
    options = row.get("options", {})
    members = {CREATOR: "join", MOD: "join", LOW: "join", OUT: "leave"}
    if row["before"] is not None:
        members[ALICE] = row["before"]
    pl_overrides = dict(options.get("pl", {}))
    if "alice_level" in options:
        pl_overrides["users"] = {ALICE: options["alice_level"]}
    return Room(
        rv,
        join_rule=row["join_rule"],
        members=members,
        power_levels=default_power_levels(rv, **pl_overrides),
    )


def _path(expected: str) -> tuple[str | int, ...]:
    return tuple(int(p) if p.isdigit() else p for p in expected.split("."))


@pytest.mark.parametrize(("version", "row"), CASES)
def test_knock_transition(version: int, row: dict[str, Any]) -> None:
    label, options = row["label"], row.get("options", {})
    expected = row.get("expected_v12", row["expected"]) if version == 12 else row["expected"]
    room = _room(version, row)
    sender = USERS[row["sender"]]
    content: dict[str, Any] = {}
    signed_by = [sender.partition(":")[2]]
    if "jaus" in options:
        authoriser = USERS[options["jaus"]]
        content["join_authorised_via_users_server"] = authoriser
        if not options.get("unsigned_authoriser"):
            signed_by.append(authoriser.partition(":")[2])
    event = room.member(sender, ALICE, row["membership"], content=content, signed_by=signed_by)

    failure = check_auth(event, room.state)

    if expected == "allow":
        assert failure is None, f"{label}: expected allowed, got {failure}"
    else:
        assert failure is not None, f"{label}: expected rejection by {expected}, was allowed"
        assert failure.rule == rule_number(room.rv, *_path(expected)), f"{label}: {failure}"


def test_table_covers_every_knock_transition() -> None:
    """Into knock from none/leave/knock/invite/join/ban; out of knock to every membership."""
    into = {(r["before"], r["membership"]) for r in ROWS if r["sender"] == "alice"}
    for before in (None, "leave", "knock", "invite", "join", "ban"):
        assert (before, "knock") in into
    out_of = {(r["sender"] == "alice", r["membership"]) for r in ROWS if r["before"] == "knock"}
    for transition in [(False, "invite"), (True, "join"), (True, "leave"), (False, "leave")]:
        assert transition in out_of
    assert (False, "ban") in out_of
    join_rules = {r["join_rule"] for r in ROWS}
    assert {"public", "invite", "knock", "restricted", "knock_restricted"} <= join_rules
    assert {v for r in ROWS for v in r["versions"]} == {6, 7, 9, 10, 11, 12}
