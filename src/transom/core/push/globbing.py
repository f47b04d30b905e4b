"""Glob-style matching for push rules (spec: appendices, "Glob-style matching"; client-server API,
"Push Rules" → "Conditions" → `event_match`, and content rules).

``*`` matches zero or more characters and ``?`` exactly one; every other character is literal.
Matching is case-insensitive (the spec leaves the exact meaning to the homeserver: here it is
Python's Unicode-aware ``re.IGNORECASE``). A pattern either matches the whole value or, for
``content.body``, any substring that starts and ends at a word boundary: the start or end of the
value, or any character not in ``[A-Za-z0-9_]``.
"""

from __future__ import annotations

import re
from functools import lru_cache

# "A word boundary is defined as the start or end of the value, or any character not in the sets
# [A-Z], [a-z], [0-9] or _" (Push Rules, content rules and `event_match` on `content.body`).
_WORD_CHAR = "[A-Za-z0-9_]"


def _translate(pattern: str) -> str:
    out: list[str] = []
    for char in pattern:
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        else:
            out.append(re.escape(char))
    return "".join(out)


@lru_cache(maxsize=1024)
def compile_glob(pattern: str, *, word_boundary: bool) -> re.Pattern[str]:
    """A compiled regex for ``pattern``; use ``fullmatch`` unless ``word_boundary`` is set."""
    body = _translate(pattern)
    if word_boundary:
        body = f"(?<!{_WORD_CHAR})(?:{body})(?!{_WORD_CHAR})"
    return re.compile(body, re.IGNORECASE | re.DOTALL)


def glob_matches(pattern: str, value: str, *, word_boundary: bool = False) -> bool:
    """Whether ``pattern`` matches all of ``value`` (or, with ``word_boundary``, a word run)."""
    regex = compile_glob(pattern, word_boundary=word_boundary)
    if word_boundary:
        return regex.search(value) is not None
    return regex.fullmatch(value) is not None


@lru_cache(maxsize=1024)
def _compile_literal_words(needle: str) -> re.Pattern[str]:
    return re.compile(
        f"(?<!{_WORD_CHAR}){re.escape(needle)}(?!{_WORD_CHAR})", re.IGNORECASE | re.DOTALL
    )


def contains_literal_words(needle: str, haystack: str) -> bool:
    """Whether ``needle``, taken literally, occurs in ``haystack`` between word boundaries."""
    return _compile_literal_words(needle).search(haystack) is not None
