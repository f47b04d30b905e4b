"""Server discovery: ``/.well-known/matrix/client`` (client-server API, "Well-known URIs") and
``/.well-known/matrix/server`` (server-server API, "Resolving server names")."""

from __future__ import annotations

import re
from typing import Any

from transom.api.routing import ApiRequest, Route
from transom.services.errors import NotFound


async def client_wellknown(req: ApiRequest) -> dict[str, Any]:
    return {"m.homeserver": {"base_url": req.hs.config.client_base_url()}}


async def server_wellknown(req: ApiRequest) -> dict[str, Any]:
    config = req.hs.config
    if not config.serve_server_wellknown:
        raise NotFound(".well-known not available")
    port = next((lis.port for lis in config.listeners if "federation" in lis.resources), 8448)
    host = re.sub(r":\d+$", "", config.server_name)  # drop an explicit port, IPv6 literals too
    return {"m.server": f"{host}:{port}"}


def routes(hs: object) -> list[Route]:
    return [
        Route("GET", ("/.well-known/matrix/client",), client_wellknown),
        Route("GET", ("/.well-known/matrix/server",), server_wellknown),
    ]
