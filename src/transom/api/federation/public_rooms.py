"""``GET``/``POST /_matrix/federation/v1/publicRooms`` (server-server API "Public Room
Directory"); served only with ``allow_public_rooms_over_federation``."""

from __future__ import annotations

from typing import Any

from transom.api.routing import ApiRequest, Route
from transom.services.errors import InvalidParam

PATH = "/_matrix/federation/v1/publicRooms"


def _limit(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidParam("limit must be an integer") from None


async def get_public_rooms(req: ApiRequest) -> dict[str, Any]:
    return await req.hs.federation_queries.public_rooms(
        limit=_limit(req.query("limit")), since=req.query("since"), search_term=None
    )


async def post_public_rooms(req: ApiRequest) -> dict[str, Any]:
    body = await req.body()
    search = body.opt_dict("filter") or {}
    term = search.get("generic_search_term")
    return await req.hs.federation_queries.public_rooms(
        limit=body.opt_int("limit"),
        since=body.opt_str("since"),
        search_term=term if isinstance(term, str) else None,
    )


def routes(hs: object) -> list[Route]:
    return [
        Route("GET", (PATH,), get_public_rooms, federation=True),
        Route("POST", (PATH,), post_public_rooms, federation=True),
    ]
