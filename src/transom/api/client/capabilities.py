"""``GET /capabilities`` (client-server API, "Capabilities negotiation": ``m.room_versions``
and ``m.change_password``)."""

from __future__ import annotations

from typing import Any

from transom.api.routing import ApiRequest, Route, client_paths
from transom.core.room_versions import KNOWN_ROOM_VERSIONS


async def get_capabilities(req: ApiRequest) -> dict[str, Any]:
    available = {
        version: "stable" if rv.stable else "unstable"
        for version, rv in KNOWN_ROOM_VERSIONS.items()
    }
    return {
        "capabilities": {
            "m.room_versions": {
                "default": req.hs.config.default_room_version,
                "available": available,
            },
            "m.change_password": {"enabled": True},
        }
    }


def routes(hs: object) -> list[Route]:
    return [Route("GET", client_paths("/capabilities"), get_capabilities, auth=True)]
