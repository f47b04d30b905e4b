"""Typed errors raised by services and by request parsing.

Each class carries the Matrix ``errcode`` (client-server API, "Standard error response" and
"Common error codes"); ``transom.api.errors`` is the one place that turns them into HTTP status
codes and error JSON.
"""

from __future__ import annotations

from typing import Any

from transom.core.errors import MatrixProtocolError


class Forbidden(MatrixProtocolError):
    errcode = "M_FORBIDDEN"


class NotFound(MatrixProtocolError):
    errcode = "M_NOT_FOUND"


class Unrecognized(MatrixProtocolError):
    errcode = "M_UNRECOGNIZED"


class UnknownError(MatrixProtocolError):
    """A request we understood but refuse for a reason with no dedicated errcode (400)."""

    errcode = "M_UNKNOWN"


class NotJson(MatrixProtocolError):
    errcode = "M_NOT_JSON"


class BadJson(MatrixProtocolError):
    errcode = "M_BAD_JSON"


class MissingParam(MatrixProtocolError):
    errcode = "M_MISSING_PARAM"


class InvalidParam(MatrixProtocolError):
    errcode = "M_INVALID_PARAM"


class TooLarge(MatrixProtocolError):
    errcode = "M_TOO_LARGE"


class MissingToken(MatrixProtocolError):
    errcode = "M_MISSING_TOKEN"


class Unauthorized(MatrixProtocolError):
    """A federation request failed authentication (server-server API "Request Authentication"):
    missing or malformed X-Matrix header, another destination, unknown key, bad signature."""

    errcode = "M_UNAUTHORIZED"


class UnknownToken(MatrixProtocolError):
    """The access token is not known (spec: "Soft logout": ``soft_logout`` false = hard logout)."""

    errcode = "M_UNKNOWN_TOKEN"


class UserInUse(MatrixProtocolError):
    errcode = "M_USER_IN_USE"


class InvalidUsername(MatrixProtocolError):
    errcode = "M_INVALID_USERNAME"


class UserDeactivated(MatrixProtocolError):
    errcode = "M_USER_DEACTIVATED"


class GuestAccessForbidden(MatrixProtocolError):
    errcode = "M_GUEST_ACCESS_FORBIDDEN"


class LimitExceeded(MatrixProtocolError):
    """A rate limit was hit (spec: "Rate limiting"); carries ``retry_after_ms``."""

    errcode = "M_LIMIT_EXCEEDED"

    def __init__(self, retry_after_ms: int, message: str = "Too many requests") -> None:
        super().__init__(message)
        self.retry_after_ms = retry_after_ms


class AuthRequired(MatrixProtocolError):
    """User-interactive authentication must continue (spec: "User-Interactive Authentication API").

    ``body`` is the 401 response body: ``flows``, ``params``, ``session``, ``completed`` and, after
    a failed stage, ``errcode``/``error``.
    """

    errcode = "M_FORBIDDEN"

    def __init__(self, body: dict[str, Any], message: str = "Authentication required") -> None:
        super().__init__(message)
        self.body = body
