"""Identifier grammar (appendices "Identifier Grammar": "Server Name", "User Identifiers",
"Historical User IDs", "Room IDs", "Room Aliases", "Event IDs").

Parsing only checks the grammar; whether a user or room exists is for the services to know.
Every failure raises ``InvalidIdentifier`` naming the identifier and the rule it breaks.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from transom.core.errors import InvalidIdentifier

# Appendices "Common Identifier Format": user IDs, room IDs, aliases, event IDs: 255 bytes.
MAX_IDENTIFIER_BYTES = 255

# "Server Name": dns-name = 1*255dns-char, dns-char = DIGIT / ALPHA / "-" / "."; labels are
# separated by "." and are not empty ("conventional restrictions for internet hostnames").
_DNS_NAME = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
_IPV4 = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}")
_IPV6_CHARS = re.compile(r"[0-9A-Fa-f:.]{2,45}")
_PORT = re.compile(r"[0-9]{1,5}")
# "User Identifiers" (since v1.8): user_id_char = DIGIT / a-z / "-" / "." / "=" / "_" / "/" / "+".
_USER_LOCALPART = re.compile(r"[a-z0-9._=\-/+]+")
# "Room IDs" (v12 rooms): `!` + the create event's ID, i.e. 43 characters of URL-safe unpadded
# base64 of a sha256 reference hash.
_HASHED_ROOM_ID = re.compile(r"[A-Za-z0-9_-]{43}")


def parse_server_name(s: str) -> tuple[str, int | None]:
    """Split a server name into host and optional port, checking the "Server Name" grammar.

    Hosts are DNS names, dotted-quad IPv4 literals (each number 0–255) or bracketed IPv6
    literals (RFC 3513 section 2.2); ports are 1–65535. The host is returned as written
    (IPv6 with its brackets); server names are case-sensitive.
    """
    if not isinstance(s, str) or not s:
        raise InvalidIdentifier("server name must be a non-empty string")
    if s.startswith("["):
        end = s.find("]")
        if end < 0:
            raise InvalidIdentifier(f"server name {s!r}: unterminated IPv6 literal")
        host, rest = s[: end + 1], s[end + 1 :]
        literal = host[1:-1]
        if not _IPV6_CHARS.fullmatch(literal):
            raise InvalidIdentifier(f"server name {s!r}: invalid IPv6 literal")
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            raise InvalidIdentifier(f"server name {s!r}: invalid IPv6 literal") from None
    else:
        host, colon, port_text = s.partition(":")
        rest = colon + port_text
        if _IPV4.fullmatch(host):
            if any(int(part) > 255 for part in host.split(".")):
                raise InvalidIdentifier(f"server name {s!r}: IPv4 numbers must be 0 to 255")
        elif len(host) > 255 or not _DNS_NAME.fullmatch(host):
            raise InvalidIdentifier(f"server name {s!r}: invalid DNS name")
    if not rest:
        return host, None
    port_text = rest[1:]
    if rest[0] != ":" or not _PORT.fullmatch(port_text) or not 1 <= int(port_text) <= 65535:
        raise InvalidIdentifier(f"server name {s!r}: port must be a number from 1 to 65535")
    return host, int(port_text)


def is_valid_server_name(s: str) -> bool:
    """Whether ``s`` matches the "Server Name" grammar."""
    try:
        parse_server_name(s)
    except InvalidIdentifier:
        return False
    return True


def is_valid_user_localpart(s: str, historical: bool = False) -> bool:
    """Whether ``s`` is a user ID localpart.

    Strict ("User Identifiers", for IDs this server creates): non-empty, ``a-z0-9._=-/+``.
    Historical ("Historical User IDs", for IDs seen over federation): any non-surrogate code
    points except ``:`` and NUL, the empty string included.
    """
    if historical:
        return _is_opaque_localpart(s)
    return bool(_USER_LOCALPART.fullmatch(s))


def _is_opaque_localpart(s: str) -> bool:
    """Non-surrogate code points except ``:`` and NUL (historical users, aliases, room IDs)."""
    return not any(c in ":\x00" or "\ud800" <= c <= "\udfff" for c in s)


def _split(s: str, sigil: str, what: str) -> tuple[str, str]:
    if not isinstance(s, str) or not s.startswith(sigil):
        raise InvalidIdentifier(f"{what} {s!r} must start with {sigil!r}")
    if len(s.encode("utf-8", "surrogatepass")) > MAX_IDENTIFIER_BYTES:
        raise InvalidIdentifier(f"{what} {s!r} is longer than {MAX_IDENTIFIER_BYTES} bytes")
    localpart, colon, domain = s[1:].partition(":")
    if not colon:
        raise InvalidIdentifier(f"{what} {s!r} has no ':domain' part")
    if not is_valid_server_name(domain):
        raise InvalidIdentifier(f"{what} {s!r} has an invalid server name {domain!r}")
    return localpart, domain


@dataclass(frozen=True, slots=True)
class UserID:
    """``@localpart:domain`` (appendices "User Identifiers")."""

    localpart: str
    domain: str

    @classmethod
    def parse(cls, s: str, *, historical: bool = True) -> UserID:
        """Parse a user ID; ``historical=False`` applies the strict localpart grammar."""
        localpart, domain = _split(s, "@", "user ID")
        if not is_valid_user_localpart(localpart, historical=historical):
            kind = "historical" if historical else "user ID"
            raise InvalidIdentifier(f"user ID {s!r} has a localpart outside the {kind} grammar")
        return cls(localpart, domain)

    def __str__(self) -> str:
        return f"@{self.localpart}:{self.domain}"


@dataclass(frozen=True, slots=True)
class RoomAlias:
    """``#localpart:domain`` (appendices "Room Aliases")."""

    localpart: str
    domain: str

    @classmethod
    def parse(cls, s: str) -> RoomAlias:
        localpart, domain = _split(s, "#", "room alias")
        if not _is_opaque_localpart(localpart):
            raise InvalidIdentifier(f"room alias {s!r} contains NUL or a surrogate")
        return cls(localpart, domain)

    def __str__(self) -> str:
        return f"#{self.localpart}:{self.domain}"


@dataclass(frozen=True, slots=True)
class RoomID:
    """``!opaque:domain`` (v1–v11) or ``!`` + 43-character URL-safe hash (v12, no domain).

    Appendices "Room IDs".
    """

    opaque: str
    domain: str | None

    @classmethod
    def parse(cls, s: str) -> RoomID:
        if isinstance(s, str) and s.startswith("!") and ":" not in s:
            if not _HASHED_ROOM_ID.fullmatch(s[1:]):
                raise InvalidIdentifier(
                    f"room ID {s!r} has no domain and is not a 43-character URL-safe hash"
                )
            return cls(s[1:], None)
        opaque, domain = _split(s, "!", "room ID")
        if not _is_opaque_localpart(opaque):
            raise InvalidIdentifier(f"room ID {s!r} contains NUL or a surrogate")
        return cls(opaque, domain)

    def __str__(self) -> str:
        return f"!{self.opaque}" if self.domain is None else f"!{self.opaque}:{self.domain}"


@dataclass(frozen=True, slots=True)
class EventID:
    """``$opaque:domain`` (v1, v2) or ``$`` + base64 reference hash (v3+) (appendices
    "Event IDs")."""

    opaque: str
    domain: str | None

    @classmethod
    def parse(cls, s: str) -> EventID:
        if isinstance(s, str) and s.startswith("$") and ":" not in s:
            if len(s.encode("utf-8", "surrogatepass")) > MAX_IDENTIFIER_BYTES:
                raise InvalidIdentifier(f"event ID {s!r} is longer than 255 bytes")
            if len(s) < 2 or not _is_opaque_localpart(s[1:]):
                raise InvalidIdentifier(f"event ID {s!r} is empty or contains NUL")
            return cls(s[1:], None)
        opaque, domain = _split(s, "$", "event ID")
        if not _is_opaque_localpart(opaque):
            raise InvalidIdentifier(f"event ID {s!r} contains NUL or a surrogate")
        return cls(opaque, domain)

    def __str__(self) -> str:
        return f"${self.opaque}" if self.domain is None else f"${self.opaque}:{self.domain}"
