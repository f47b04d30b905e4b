"""Room previews (client-server API "Room summaries": ``GET /v1/room_summary/{roomIdOrAlias}``),
and MSC3266's unstable paths that clients released before Matrix 1.15 call:
``/unstable/im.nheko.summary/rooms/{roomIdOrAlias}/summary`` (the proposal's first form) and
``/unstable/im.nheko.summary/summary/{roomIdOrAlias}``.

Authentication is optional: without an access token only rooms open to anyone are previewed and
``membership`` is absent; an invalid token is still refused (401).
"""

from __future__ import annotations

from typing import Any

from transom.api.client.knocking import servers_from_query
from transom.api.http import get_access_token
from transom.api.routing import ApiRequest, Route

UNSTABLE = "/_matrix/client/unstable/im.nheko.summary"


async def room_summary(req: ApiRequest) -> dict[str, Any]:
    user_id = None
    token = get_access_token(req.http)
    if token is not None:
        user_id = (await req.hs.accounts.authenticate(token, req.ip)).user_id
    return await req.hs.room_summary.summary(
        user_id, req.path("roomIdOrAlias"), via=servers_from_query(req)
    )


def routes(hs: object) -> list[Route]:
    return [
        Route("GET", ("/_matrix/client/v1/room_summary/{roomIdOrAlias}",
                      f"{UNSTABLE}/rooms/{{roomIdOrAlias}}/summary",
                      f"{UNSTABLE}/summary/{{roomIdOrAlias}}"), room_summary),
    ]  # fmt: skip
