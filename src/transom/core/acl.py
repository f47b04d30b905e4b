"""Server access control lists (client-server API "Server Access Control Lists (ACLs) for rooms",
event schema ``m.room.server_acl``; server-server API "Server Access Control Lists (ACLs)").

Pure: the caller hands over the ``content`` of the room's current ``m.room.server_acl`` event.
ACLs apply in every room version (they act at the network layer, not in the auth rules).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from transom.core.push.globbing import compile_glob


def _host_of(server_name: str) -> str:
    """The server name without its port: "the suspect server's port number must not be
    considered". IPv6 literals keep their brackets, as written in the server name."""
    if server_name.startswith("["):
        end = server_name.find("]")
        return server_name[: end + 1] if end >= 0 else server_name
    return server_name.split(":", 1)[0]


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host[1:-1] if host.startswith("[") else host)
    except ValueError:
        return False
    return True


def _patterns(content: Mapping[str, Any], key: str) -> list[str]:
    # `allow` and `deny` default to empty lists; entries that are not strings match nothing.
    value = content.get(key)
    if not isinstance(value, list):
        return []
    return [p for p in value if isinstance(p, str)]


def _matches_any(host: str, patterns: list[str]) -> bool:
    # Appendices "Glob-style matching": `*` zero or more characters, `?` exactly one; the ACL
    # globs are case-insensitive and must match the whole host.
    return any(compile_glob(p, word_boundary=False).fullmatch(host) for p in patterns)


def server_allowed_by_acl(server_name: str, acl_content: Mapping[str, Any] | None) -> bool:
    """Whether ``server_name`` may take part in a room whose ACL content is ``acl_content``
    (None when the room has no ``m.room.server_acl`` state event).

    Schema ``m.room.server_acl``, applied in order (all room versions):
    1. no ACL event: allow;
    2. an IP literal server name when ``allow_ip_literals`` is ``false``: deny (the field
       defaults to true "if missing or otherwise not a boolean");
    3. a match in ``deny``: deny;
    4. a match in ``allow``: allow;
    5. otherwise deny.
    """
    if acl_content is None:
        return True
    host = _host_of(server_name)
    if acl_content.get("allow_ip_literals") is False and _is_ip_literal(host):
        return False
    if _matches_any(host, _patterns(acl_content, "deny")):
        return False
    return _matches_any(host, _patterns(acl_content, "allow"))
