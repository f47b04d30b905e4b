"""Profiles (client-server API "Profiles"): ``GET /profile/{userId}``,
``GET/PUT/DELETE /profile/{userId}/displayname`` and ``.../avatar_url`` (v1.16's
``/profile/{userId}/{keyName}`` with the two fields this server stores).
"""

from __future__ import annotations

from typing import Any

from transom.api.routing import ApiRequest, Route, client_paths
from transom.services.errors import MissingParam


async def get_profile(req: ApiRequest) -> dict[str, Any]:
    return await req.hs.profile_service.get_profile(req.path("userId"))


async def get_field(req: ApiRequest) -> dict[str, Any]:
    return await req.hs.profile_service.get_field(req.path("userId"), req.path("keyName"))


async def put_field(req: ApiRequest) -> dict[str, Any]:
    field = req.path("keyName")
    body = await req.body()
    if field not in body.data:
        raise MissingParam(f"Missing '{field}' in the request body")
    await req.hs.profile_service.set_field(
        req.requester.user_id, req.path("userId"), field, body.data[field]
    )
    return {}


async def delete_field(req: ApiRequest) -> dict[str, Any]:
    # "DELETE /profile/{userId}/{keyName}" (v1.16+): 200 whether or not the field was set; the
    # same checks as setting it (own profile only, a supported key).
    await req.hs.profile_service.set_field(
        req.requester.user_id, req.path("userId"), req.path("keyName"), None
    )
    return {}


def routes(hs: object) -> list[Route]:
    return [
        Route("GET", client_paths("/profile/{userId}"), get_profile),
        Route("GET", client_paths("/profile/{userId}/{keyName}"), get_field),
        Route("PUT", client_paths("/profile/{userId}/{keyName}"), put_field, auth=True),
        Route("DELETE", client_paths("/profile/{userId}/{keyName}"), delete_field, auth=True),
    ]
