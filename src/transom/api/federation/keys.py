"""Key server and notary endpoints (server-server API "Retrieving server keys").

``GET /_matrix/key/v2/server`` ("Publishing Keys"): this server's signing key, self-signed, with
``valid_until_ts`` one day ahead. ``GET /_matrix/key/v2/query/{serverName}`` and
``POST /_matrix/key/v2/query`` ("Querying Keys Through Another Server"): other servers' key
responses, from the cache when valid until ``minimum_valid_until_ts`` (default: now), else
fetched, else the stale cached copy for a server that can't be reached; each response keeps
the origin's signatures and gains ours.
"""

from __future__ import annotations

from typing import Any

from transom.api.routing import ApiRequest, Route
from transom.core.identifiers import is_valid_server_name
from transom.core.signing import sign_json as add_signature
from transom.services.errors import BadJson, InvalidParam

MAX_SERVERS_PER_QUERY = 100


async def get_server_keys(req: ApiRequest) -> dict[str, Any]:
    return req.hs.keyring.own_key_response()


async def _notarise(
    req: ApiRequest, server_name: str, min_valid: int, key_ids: list[str]
) -> dict[str, Any] | None:
    hs = req.hs
    if not is_valid_server_name(server_name):
        return None
    response = await hs.keyring.get_key_response(server_name, min_valid, key_ids)
    if response is None:
        return None
    # "The notary server must sign the keys returned by the queried server."
    return add_signature(response, hs.server_name, hs.signing_key)


async def query_one(req: ApiRequest) -> dict[str, Any]:
    raw = req.query("minimum_valid_until_ts")
    if raw is None:
        min_valid = req.hs.clock.time_msec()  # "If not supplied, ... MUST use the current time"
    else:
        try:
            min_valid = int(raw)
        except ValueError:
            raise InvalidParam("minimum_valid_until_ts must be an integer") from None
    response = await _notarise(req, req.path("server_name"), min_valid, [])
    return {"server_keys": [response] if response is not None else []}


async def query_many(req: ApiRequest) -> dict[str, Any]:
    body = await req.body()
    criteria = body.opt_dict("server_keys")
    if criteria is None:
        raise BadJson("'server_keys' must be an object")
    if len(criteria) > MAX_SERVERS_PER_QUERY:
        raise InvalidParam(f"at most {MAX_SERVERS_PER_QUERY} servers per query")
    now = req.hs.clock.time_msec()
    results = []
    for server_name, keys in criteria.items():
        if not isinstance(keys, dict):
            raise BadJson(f"server_keys.{server_name} must be an object")
        supplied = [
            value
            for criterion in keys.values()
            if isinstance(criterion, dict)
            and isinstance(value := criterion.get("minimum_valid_until_ts"), int)
            and not isinstance(value, bool)
        ]
        # "If not supplied, the notary server MUST use the current time."
        min_valid = max(supplied) if supplied else now
        response = await _notarise(req, server_name, min_valid, list(keys))
        if response is not None:
            results.append(response)
    return {"server_keys": results}


def routes(hs: object) -> list[Route]:
    return [
        Route("GET", ("/_matrix/key/v2/server",), get_server_keys),
        Route("GET", ("/_matrix/key/v2/query/{server_name}",), query_one),
        Route("POST", ("/_matrix/key/v2/query",), query_many),
    ]
