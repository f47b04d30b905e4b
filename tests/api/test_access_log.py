"""The access log: one line per request, never an access token (client-server API "Client
authentication": the deprecated ``access_token`` query parameter is still served)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from transom.api.access_log import redact_uri


def test_redact_uri_replaces_every_token_value_only() -> None:
    assert redact_uri("/_matrix/client/v3/sync?timeout=0") == "/_matrix/client/v3/sync?timeout=0"
    assert (
        redact_uri("/sync?access_token=syt_secret&timeout=0&x_access_token=keep")
        == "/sync?access_token=<redacted>&timeout=0&x_access_token=keep"
    )
    assert redact_uri("/a?since=1&access_token=t1&access_token=t2") == (
        "/a?since=1&access_token=<redacted>&access_token=<redacted>"
    )


async def test_request_logged_without_its_token(
    server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _, token, _ = await server.register("access_log_user")
    caplog.set_level(logging.INFO, logger="transom.access")
    async with server.session.get(
        f"{server.base_url}/_matrix/client/v3/account/whoami",
        params={"access_token": token},
        headers={"User-Agent": "access-log-test"},
    ) as response:
        assert response.status == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "transom.access"]
    assert any("whoami?access_token=<redacted>" in line for line in lines), lines
    line = next(line for line in lines if "whoami" in line)
    assert '"GET /_matrix/client/v3/account/whoami?access_token=<redacted> HTTP/1.1" 200' in line
    assert "access-log-test" in line
    assert all(token not in line for line in lines)
