"""``GET /sync`` (client-server API "Syncing"; OpenAPI ``sync.yaml``).

Query: ``since`` (a ``next_batch`` token), ``filter`` (a filter ID, or inline filter JSON when
it starts with ``{``), ``full_state``, ``set_presence`` (accepted; presence is not tracked),
``timeout`` (ms to long-poll), ``use_state_after`` (spec v1.16).
"""

from __future__ import annotations

import json
from typing import Any

from transom.api.routing import ApiRequest, Route, client_paths
from transom.services.errors import InvalidParam, NotFound
from transom.services.filtering import DEFAULT_FILTER, Filter, parse_filter
from transom.services.sync.tokens import SyncToken

_PRESENCE = ("online", "offline", "unavailable")


def _bool_param(req: ApiRequest, name: str) -> bool:
    value = req.query(name)
    if value is None:
        return False
    if value not in ("true", "false"):
        raise InvalidParam(f"'{name}' must be 'true' or 'false'")
    return value == "true"


async def _filter(req: ApiRequest, user_id: str) -> Filter:
    value = req.query("filter")
    if value is None or value == "":
        return DEFAULT_FILTER
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except ValueError:
            raise InvalidParam("'filter' is not valid JSON") from None
        return parse_filter(data)
    definition = await req.hs.filters.get_filter(user_id, value)
    if definition is None:
        raise NotFound("No such filter")
    return parse_filter(definition)


async def sync(req: ApiRequest) -> dict[str, Any]:
    requester = req.requester
    since_text = req.query("since")
    since = SyncToken.parse(since_text) if since_text else None
    timeout_text = req.query("timeout") or "0"
    try:
        timeout_ms = int(timeout_text)
    except ValueError:
        raise InvalidParam("'timeout' must be an integer") from None
    presence = req.query("set_presence")
    if presence is not None and presence not in _PRESENCE:
        raise InvalidParam("'set_presence' must be one of online, offline, unavailable")
    result: dict[str, Any] = await req.hs.sync.sync(
        requester.user_id,
        requester.device_id,
        since=since,
        sync_filter=await _filter(req, requester.user_id),
        full_state=_bool_param(req, "full_state"),
        timeout_ms=timeout_ms,
        use_state_after=_bool_param(req, "use_state_after"),
    )
    return result


def routes(hs: object) -> list[Route]:
    return [Route("GET", client_paths("/sync"), sync, auth=True)]
