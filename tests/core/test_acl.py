"""Server ACL matching (event schema ``m.room.server_acl``; server-server API "Server Access
Control Lists (ACLs)")."""

from __future__ import annotations

from typing import Any

import pytest

from transom.core.acl import server_allowed_by_acl

SPEC_EXAMPLE = {"allow": ["*"], "allow_ip_literals": False, "deny": ["*.evil.com", "evil.com"]}


def test_no_acl_allows_everyone() -> None:
    assert server_allowed_by_acl("anything.example", None)
    assert server_allowed_by_acl("1.2.3.4", None)


@pytest.mark.parametrize(
    ("server", "allowed"),
    [
        ("good.example", True),
        ("evil.com", False),
        ("evil.com:8448", False),  # the port is never considered
        ("evil.com:1234", False),
        ("sub.evil.com", False),
        ("deep.sub.evil.com:443", False),
        ("notevil.com", True),  # `*.evil.com` needs the dot
        ("EVIL.COM", False),  # case-insensitive
        ("1.2.3.4", False),  # IP literals denied by allow_ip_literals: false
        ("1.2.3.4:8448", False),
        ("[2001:db8::1]", False),
        ("[2001:db8::1]:8448", False),
        ("1.2.3.4.example", True),  # a DNS name, not an IP literal
    ],
)
def test_spec_example(server: str, allowed: bool) -> None:
    assert server_allowed_by_acl(server, SPEC_EXAMPLE) is allowed


def test_ip_literals_allowed_by_default() -> None:
    content = {"allow": ["*"]}
    assert server_allowed_by_acl("1.2.3.4:8448", content)
    assert server_allowed_by_acl("[::1]", content)
    # "Defaults to true if missing or otherwise not a boolean."
    assert server_allowed_by_acl("1.2.3.4", {**content, "allow_ip_literals": "false"})
    assert server_allowed_by_acl("1.2.3.4", {**content, "allow_ip_literals": 0})
    # Globs match IP literals like any host.
    assert not server_allowed_by_acl("10.0.0.7:8448", {"allow": ["*"], "deny": ["10.0.0.*"]})


@pytest.mark.parametrize(
    ("content", "server", "allowed"),
    [
        ({}, "a.example", False),  # no allow list: nobody, not even the sender
        ({"deny": []}, "a.example", False),
        ({"allow": "*"}, "a.example", False),  # not a list: empty
        ({"allow": [1, None, "a.example"]}, "a.example:99", True),  # non-strings ignored
        ({"allow": ["?.example"]}, "a.example", True),
        ({"allow": ["?.example"]}, "ab.example", False),  # `?` is exactly one character
        ({"allow": ["a.example"]}, "a.example.evil", False),  # whole-name match
        ({"allow": ["a.ex*"], "deny": ["*"]}, "a.example", False),  # deny wins over allow
        ({"allow": ["a.ex.mple"]}, "a.exxmple", False),  # `.` is literal
        ({"allow": ["a.example"]}, "A.Example:8448", True),
    ],
)
def test_rules(content: dict[str, Any], server: str, allowed: bool) -> None:
    assert server_allowed_by_acl(server, content) is allowed
