"""Dot-separated property paths (spec: appendices, "Dot-separated property paths"), used by the
push rule conditions `event_match`, `event_property_is` and `event_property_contains`
(client-server API, "Push Rules" → "Conditions").

A path is a list of property names joined by ``.``; a literal dot or backslash inside a name is
escaped with a backslash (``content.m\\.relates_to``). Any other escape sequence is left as-is
(``\\x`` is a backslash followed by ``x``). Lookups never raise: a path that leads nowhere, or
through something that is not a JSON object, yields ``MISSING``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final


class _Missing:
    """The type of ``MISSING``: a property that is absent from the event."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


@lru_cache(maxsize=1024)
def split_path(path: str) -> tuple[str, ...]:
    """The property names of a dot-separated path, with ``\\.`` and ``\\\\`` unescaped."""
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(path):
        char = path[i]
        if char == "\\" and i + 1 < len(path) and path[i + 1] in ".\\":
            # Appendices: "any literal dot or backslash found in a property name should be
            # escaped with a backslash".
            current.append(path[i + 1])
            i += 2
            continue
        if char == ".":
            parts.append("".join(current))
            current = []
        else:
            # "Other escape sequences are left as-is" - a lone backslash stays literal.
            current.append(char)
        i += 1
    parts.append("".join(current))
    return tuple(parts)


def lookup(event: Mapping[str, Any], path: str) -> Any:
    """The value at ``path`` in ``event``, or ``MISSING`` if there is none."""
    value: Any = event
    for name in split_path(path):
        if not isinstance(value, Mapping) or name not in value:
            return MISSING
        value = value[name]
    return value
