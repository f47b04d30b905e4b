"""``GET /_matrix/federation/v1/query/directory`` and ``/query/profile`` (server-server API
"Querying for information")."""

from __future__ import annotations

from typing import Any

from transom.api.routing import ApiRequest, Route
from transom.services.errors import InvalidParam, MissingParam


async def query_directory(req: ApiRequest) -> dict[str, Any]:
    alias = req.query("room_alias")
    if not alias:
        raise MissingParam("room_alias is required")
    return await req.hs.federation_queries.directory(alias)


async def query_profile(req: ApiRequest) -> dict[str, Any]:
    user_id = req.query("user_id")
    if not user_id:
        raise MissingParam("user_id is required")
    field = req.query("field")
    if field is not None and field not in ("displayname", "avatar_url"):
        raise InvalidParam("field must be displayname or avatar_url")
    return await req.hs.federation_queries.profile(user_id, field)


def routes(hs: object) -> list[Route]:
    return [
        Route("GET", ("/_matrix/federation/v1/query/directory",), query_directory,
              federation=True),
        Route("GET", ("/_matrix/federation/v1/query/profile",), query_profile, federation=True),
    ]  # fmt: skip
