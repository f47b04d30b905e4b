"""Typed protocol errors.

Core code raises or returns these; the HTTP layer maps them to Matrix error JSON
(``errcode``/``error``/status) in one place (``transom.api.errors``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class MatrixProtocolError(Exception):
    """Base of every error raised by ``transom.core``."""

    errcode = "M_UNKNOWN"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidIdentifier(MatrixProtocolError):
    """A user, room, event, alias ID or server name breaks the appendix grammar."""

    errcode = "M_INVALID_PARAM"


class InvalidCanonicalJson(MatrixProtocolError):
    """A value cannot be encoded as canonical JSON (floats, out-of-range integers, ...)."""

    errcode = "M_BAD_JSON"


class InvalidEvent(MatrixProtocolError):
    """A PDU does not match its room version's format (missing keys, size limits, ...)."""

    errcode = "M_BAD_JSON"


class SignatureError(MatrixProtocolError):
    """A signature is missing, malformed or does not verify."""

    errcode = "M_FORBIDDEN"


class UnsupportedRoomVersion(MatrixProtocolError):
    """The room version is not one this server implements."""

    errcode = "M_UNSUPPORTED_ROOM_VERSION"


@dataclass(frozen=True, slots=True)
class AuthFailure:
    """Why the authorization rules rejected an event.

    ``rule`` is the spec's rule number for the room version's rule set (for example ``"4.3.2"``),
    ``reason`` a human sentence suitable for the ``error`` field of ``M_FORBIDDEN``.
    """

    rule: str
    reason: str

    def __str__(self) -> str:
        return f"auth rule {self.rule}: {self.reason}"


class AuthError(MatrixProtocolError):
    """Raised by helpers that prefer exceptions; carries the typed ``AuthFailure``."""

    errcode = "M_FORBIDDEN"

    def __init__(self, failure: AuthFailure) -> None:
        super().__init__(str(failure))
        self.failure = failure


class MissingEventsError(MatrixProtocolError):
    """An algorithm needs events the caller did not supply; fetch ``event_ids`` and retry.

    Core never loads events: state resolution and the auth rules are handed every event they
    need, so a gap in what was prefetched surfaces as this error.
    """

    errcode = "M_NOT_FOUND"

    def __init__(self, event_ids: Iterable[str]) -> None:
        ids = tuple(sorted(set(event_ids)))
        super().__init__(f"Missing events: {', '.join(ids)}")
        self.event_ids = ids
