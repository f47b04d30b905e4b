"""Canonical JSON (appendices, "Signing JSON" → "Canonical JSON"; room versions' "Canonical JSON").

Encoding is delegated to the ``canonicaljson`` library: the shortest UTF-8 JSON with keys sorted
by code point. Room versions 6 and later (``RoomVersion.strict_canonical_json``, fragment
``v6-canonical-json``) additionally forbid floats and integers outside ``[-(2**53)+1, (2**53)-1]``;
v1–v5 events may carry such values and must still be accepted, so strictness is opt-in by passing
the room version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import canonicaljson

from transom.core.errors import InvalidCanonicalJson
from transom.core.room_versions import RoomVersion

# Appendices "Canonical JSON": numbers must be integers in [-(2**53)+1, (2**53)-1].
MAX_SAFE_INTEGER = 2**53 - 1
MIN_SAFE_INTEGER = -(2**53) + 1


def encode_canonical_json(value: object, room_version: RoomVersion | None = None) -> bytes:
    """Encode ``value`` as canonical JSON bytes.

    With a ``room_version`` whose ``strict_canonical_json`` flag is set (v6+), floats and
    out-of-range integers anywhere in ``value`` raise ``InvalidCanonicalJson``.
    """
    if room_version is not None and room_version.strict_canonical_json:
        check_strict_json(value)
    try:
        return canonicaljson.encode_canonical_json(value)
    except (TypeError, ValueError) as exc:
        raise InvalidCanonicalJson(f"value cannot be encoded as canonical JSON: {exc}") from None


def check_strict_json(value: object) -> None:
    """Raise ``InvalidCanonicalJson`` if ``value`` holds a float or an unsafe integer.

    Appendices "Canonical JSON" (enforced from room version 6): only integers in
    ``[-(2**53)+1, (2**53)-1]``; floats are not permitted. Checked recursively, iteratively so
    that deeply nested input cannot exhaust the Python stack.
    """
    stack: list[tuple[str, object]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, bool) or item is None or isinstance(item, str):
            continue
        if isinstance(item, int):
            if not MIN_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                raise InvalidCanonicalJson(
                    f"integer out of the canonical JSON range at {path or '<root>'}: {item}"
                )
        elif isinstance(item, float):
            raise InvalidCanonicalJson(f"float not allowed in canonical JSON at {path or '<root>'}")
        elif isinstance(item, Mapping):
            stack.extend((f"{path}.{key}", child) for key, child in item.items())
        elif isinstance(item, list | tuple):
            stack.extend((f"{path}[{i}]", child) for i, child in enumerate(item))
        else:
            raise InvalidCanonicalJson(
                f"type {type(item).__name__} not allowed in JSON at {path or '<root>'}"
            )


def parse_json(data: str | bytes) -> object:
    """Parse JSON text as Matrix does.

    ``NaN``/``Infinity`` are not JSON and are rejected. A number written with a fraction or an
    exponent whose value is an integer in the canonical range becomes an ``int`` (appendices
    "Canonical JSON" examples: ``-0`` → ``0`` and ``1e10`` → ``10000000000``); any other such
    number stays a ``float`` so that ``check_strict_json`` can reject it. Because of that
    normalisation, do not use this to read PDUs of v1–v5 rooms, whose senders may have hashed
    and signed a float such as ``1.0`` as written; plain ``json.loads`` keeps it.
    """

    def _number(text: str) -> int | float:
        number = float(text)
        if number.is_integer() and MIN_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
            return int(number)
        return number

    def _reject_constant(name: str) -> object:
        raise InvalidCanonicalJson(f"{name} is not valid JSON")

    try:
        return json.loads(data, parse_float=_number, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidCanonicalJson(f"invalid JSON: {exc}") from None
