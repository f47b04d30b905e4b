"""The access log: one INFO line per request on the ``transom.access`` logger.

Access tokens may travel in the query string (client-server API "Client authentication":
``access_token`` query parameter, deprecated but still served), so the logged URI has that
parameter's value replaced; a token must never reach a log file. The line is formatted lazily by
``logging`` (nothing is built when INFO is off), which also keeps it cheap on busy servers.
"""

from __future__ import annotations

import logging
import re

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

_TOKEN_IN_QUERY = re.compile(r"((?:^|[?&])access_token=)[^&]*")


def redact_uri(raw_path: str) -> str:
    """``raw_path`` with the value of every ``access_token`` query parameter replaced."""
    if "access_token=" not in raw_path:
        return raw_path
    return _TOKEN_IN_QUERY.sub(r"\1<redacted>", raw_path)


class AccessLogger(AbstractAccessLogger):
    """``remote "METHOD uri HTTP/x.y" status bytes seconds "user agent"``."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        version = request.version
        self.logger.info(
            '%s "%s %s HTTP/%d.%d" %d %d %.3fs "%s"',
            request.remote or "-",
            request.method,
            redact_uri(request.raw_path),
            version.major,
            version.minor,
            response.status,
            response.body_length,
            time,
            request.headers.get("User-Agent", "-"),
        )
