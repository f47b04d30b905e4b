"""``GET /_matrix/federation/v1/version`` (server-server API, "Server implementation")."""

from __future__ import annotations

from typing import Any

from transom import __version__
from transom.api.routing import ApiRequest, Route


async def get_version(req: ApiRequest) -> dict[str, Any]:
    return {"server": {"name": "Transom", "version": __version__}}


def routes(hs: object) -> list[Route]:
    return [Route("GET", ("/_matrix/federation/v1/version",), get_version)]
