"""Filters (client-server API "Filtering": ``POST /user/{userId}/filter``,
``GET /user/{userId}/filter/{filterId}``; OpenAPI ``filter.yaml``).

Only the owner may upload or read a user's filters (403 otherwise); an unknown filter is 404.
"""

from __future__ import annotations

from typing import Any

from transom.api.routing import ApiRequest, Route, client_paths
from transom.services.errors import Forbidden, NotFound
from transom.services.filtering import parse_filter


def _own_user(req: ApiRequest) -> str:
    user_id = req.path("userId")
    if user_id != req.requester.user_id:
        raise Forbidden("Cannot use filters for other users")
    return user_id


async def create_filter(req: ApiRequest) -> dict[str, Any]:
    user_id = _own_user(req)
    definition = (await req.body()).data
    parse_filter(definition)  # 400 M_BAD_JSON when malformed
    return {"filter_id": await req.hs.filters.add_filter(user_id, definition)}


async def get_filter(req: ApiRequest) -> dict[str, Any]:
    user_id = _own_user(req)
    definition = await req.hs.filters.get_filter(user_id, req.path("filterId"))
    if definition is None:
        raise NotFound("No such filter")
    return definition


def routes(hs: object) -> list[Route]:
    return [
        Route("POST", client_paths("/user/{userId}/filter"), create_filter, auth=True),
        Route("GET", client_paths("/user/{userId}/filter/{filterId}"), get_filter, auth=True),
    ]
