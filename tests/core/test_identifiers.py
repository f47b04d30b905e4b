"""Identifier grammar (appendices "Identifier Grammar")."""

from __future__ import annotations

import pytest

from transom.core.errors import InvalidIdentifier
from transom.core.identifiers import (
    EventID,
    RoomAlias,
    RoomID,
    UserID,
    is_valid_server_name,
    is_valid_user_localpart,
    parse_server_name,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # The appendix's own examples.
        ("matrix.org", ("matrix.org", None)),
        ("matrix.org:8888", ("matrix.org", 8888)),
        ("1.2.3.4", ("1.2.3.4", None)),
        ("1.2.3.4:1234", ("1.2.3.4", 1234)),
        ("[1234:5678::abcd]", ("[1234:5678::abcd]", None)),
        ("[1234:5678::abcd]:5678", ("[1234:5678::abcd]", 5678)),
        ("localhost", ("localhost", None)),
        ("MATRIX.org:65535", ("MATRIX.org", 65535)),
        ("[::1]:1", ("[::1]", 1)),
        ("[::ffff:1.2.3.4]", ("[::ffff:1.2.3.4]", None)),
        ("a-b.c-d", ("a-b.c-d", None)),
    ],
)
def test_valid_server_names(name: str, expected: tuple[str, int | None]) -> None:
    assert parse_server_name(name) == expected
    assert is_valid_server_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        ":8448",
        "matrix.org:",
        "matrix.org:0",
        "matrix.org:65536",
        "matrix.org:123456",
        "matrix.org:8x",
        "matrix.org:80:80",
        "1.2.3.256",
        "[1234:5678::abcd",
        "[not:ipv6::zz]",
        "[1::2::3]",
        "[::1]x",
        "under_score.org",
        "exa mple.org",
        ".leading.dot",
        "double..dot",
        "trailing.dot.",
        "a" * 256,
        "ünicode.org",
    ],
)
def test_invalid_server_names(name: str) -> None:
    assert not is_valid_server_name(name)
    with pytest.raises(InvalidIdentifier):
        parse_server_name(name)


def test_server_name_type_check() -> None:
    assert not is_valid_server_name(None)  # type: ignore[arg-type]


def test_user_localparts() -> None:
    for ok in ("alice", "a.b_c=d-e/f+g", "0"):
        assert is_valid_user_localpart(ok)
    for bad in ("", "Alice", "a b", "a:b", "é", "a*b"):
        assert not is_valid_user_localpart(bad)
    # Historical: any non-surrogate code point except ':' and NUL, empty included.
    for ok in ("", "Alice", "a b", "é", "\x01"):
        assert is_valid_user_localpart(ok, historical=True)
    for bad in ("a:b", "a\x00b", "\ud800"):
        assert not is_valid_user_localpart(bad, historical=True)


def test_user_id() -> None:
    user = UserID.parse("@alice:example.org:8448")
    assert user == UserID("alice", "example.org:8448")
    assert str(user) == "@alice:example.org:8448"
    assert UserID.parse("@Alice:x").localpart == "Alice"  # historical by default
    with pytest.raises(InvalidIdentifier, match="localpart"):
        UserID.parse("@Alice:x", historical=False)
    with pytest.raises(InvalidIdentifier, match="must start with '@'"):
        UserID.parse("alice:x")
    with pytest.raises(InvalidIdentifier, match="domain"):
        UserID.parse("@alice")
    with pytest.raises(InvalidIdentifier, match="server name"):
        UserID.parse("@alice:bad_host")
    with pytest.raises(InvalidIdentifier, match="255 bytes"):
        UserID.parse("@" + "a" * 250 + ":x.org")
    assert UserID.parse("@" + "a" * 247 + ":x.org")  # exactly 255 bytes


def test_room_alias() -> None:
    alias = RoomAlias.parse("#Room Name é:example.org")
    assert alias == RoomAlias("Room Name é", "example.org")
    assert str(alias) == "#Room Name é:example.org"
    with pytest.raises(InvalidIdentifier):
        RoomAlias.parse("#a\x00:x.org")
    with pytest.raises(InvalidIdentifier):
        RoomAlias.parse("!a:x.org")
    with pytest.raises(InvalidIdentifier, match="255 bytes"):
        RoomAlias.parse("#" + "é" * 126 + ":x.org")


def test_room_id() -> None:
    classic = RoomID.parse("!opaque:example.org")
    assert classic == RoomID("opaque", "example.org") and str(classic) == "!opaque:example.org"
    hashed = "!" + "A_-" * 14 + "z"  # 43 characters of URL-safe base64 (v12)
    parsed = RoomID.parse(hashed)
    assert parsed.domain is None and str(parsed) == hashed
    for bad in ("!short", "!" + "+" * 43, "opaque:x.org", "!a\x00:x.org", "!a:bad_host"):
        with pytest.raises(InvalidIdentifier):
            RoomID.parse(bad)


def test_event_id() -> None:
    v1 = EventID.parse("$abc:example.org")
    assert v1 == EventID("abc", "example.org") and str(v1) == "$abc:example.org"
    v3 = EventID.parse("$acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk")
    assert v3.domain is None and str(v3) == "$acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk"
    for bad in ("$", "abc", "$a\x00b", "$" + "a" * 255, "$a\x00:x.org"):
        with pytest.raises(InvalidIdentifier):
            EventID.parse(bad)
