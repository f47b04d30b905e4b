"""The ONE place where typed errors become Matrix error JSON (client-server API, "API Standards":
"Standard error response", "Common error codes" and "Rate limiting").

Every failure answers ``{"errcode": ..., "error": ...}`` with the status below. An error class may
set ``http_status`` to override its errcode's default. Anything unexpected is logged and answered
500 ``M_UNKNOWN``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from transom.api.http import json_response
from transom.core.errors import MatrixProtocolError
from transom.services.errors import AuthRequired, LimitExceeded

logger = logging.getLogger(__name__)

_STATUS_BY_ERRCODE = {
    "M_FORBIDDEN": 403,
    "M_UNKNOWN_TOKEN": 401,
    "M_MISSING_TOKEN": 401,
    "M_UNAUTHORIZED": 401,
    "M_USER_LOCKED": 401,
    "M_USER_DEACTIVATED": 403,
    "M_GUEST_ACCESS_FORBIDDEN": 403,
    "M_NOT_FOUND": 404,
    "M_UNRECOGNIZED": 404,
    "M_TOO_LARGE": 413,
    "M_LIMIT_EXCEEDED": 429,
    "M_UNKNOWN": 400,
}
_DEFAULT_STATUS = 400  # M_BAD_JSON, M_NOT_JSON, M_MISSING_PARAM, M_USER_IN_USE, ...


def status_for(error: MatrixProtocolError) -> int:
    override = getattr(error, "http_status", None)
    if isinstance(override, int):
        return override
    return _STATUS_BY_ERRCODE.get(error.errcode, _DEFAULT_STATUS)


def error_json(errcode: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"errcode": errcode, "error": message, **extra}


def error_response(error: MatrixProtocolError) -> web.Response:
    """Serialise a typed error."""
    if isinstance(error, AuthRequired):
        # "User-Interactive Authentication API": 401 with flows/params/session (and errcode/error
        # after a failed stage).
        return json_response(error.body, status=401)
    body = error_json(error.errcode, error.message)
    headers: dict[str, str] = {}
    if isinstance(error, LimitExceeded):
        # "Rate limiting": retry_after_ms in the body; Retry-After (seconds) since v1.17.
        body["retry_after_ms"] = error.retry_after_ms
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after_ms / 1000)))
    if error.errcode == "M_UNKNOWN_TOKEN":
        # "Soft logout": soft_logout false means the client must log in again.
        body["soft_logout"] = False
    return json_response(body, status=status_for(error), headers=headers)


_HTTP_ERRCODES = {
    404: ("M_UNRECOGNIZED", "Unrecognized request"),
    405: ("M_UNRECOGNIZED", "Unrecognized request: method not allowed"),
    413: ("M_TOO_LARGE", "Request body too large"),
}


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.method == "OPTIONS":
        # "Web Browser Clients": pre-flight requests are answered with the CORS headers only.
        return web.Response(status=204)
    try:
        return await handler(request)
    except MatrixProtocolError as e:
        return error_response(e)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        errcode, message = _HTTP_ERRCODES.get(e.status, ("M_UNKNOWN", e.reason))
        return json_response(error_json(errcode, message), status=e.status)
    except Exception:
        logger.exception("Unhandled error in %s %s", request.method, request.path)
        return json_response(error_json("M_UNKNOWN", "Internal server error"), status=500)


async def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """ "Web Browser Clients": every response carries permissive CORS headers."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, POST, PUT, DELETE, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = (
        "X-Requested-With, Content-Type, Authorization, Date"
    )
