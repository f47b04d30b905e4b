"""``GET /_matrix/federation/v1/hierarchy/{roomId}`` (server-server API "Spaces"): the room
itself with its ``m.space.child`` state; children are not expanded."""

from __future__ import annotations

from typing import Any

from transom.api.routing import ApiRequest, Route


async def get_hierarchy(req: ApiRequest) -> dict[str, Any]:
    return await req.hs.federation_queries.hierarchy(req.origin, req.path("roomId"))


def routes(hs: object) -> list[Route]:
    return [
        Route("GET", ("/_matrix/federation/v1/hierarchy/{roomId}",), get_hierarchy,
              federation=True),
    ]  # fmt: skip
