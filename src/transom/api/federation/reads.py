"""Read endpoints of the server-server API: ``GET /event/{eventId}``, ``GET /state/{roomId}``,
``GET /state_ids/{roomId}``, ``GET /event_auth/{roomId}/{eventId}``, ``POST
/get_missing_events/{roomId}`` and ``GET /backfill/{roomId}`` (spec: "Retrieving events",
"Retrieving event authorisation information", "Backfilling and retrieving missing events").
Access rules live in ``transom.services.federation.reads``.
"""

from __future__ import annotations

from typing import Any

from transom.api.routing import ApiRequest, Route
from transom.services.errors import InvalidParam, MissingParam

V1 = "/_matrix/federation/v1"


def _event_id_param(req: ApiRequest) -> str:
    event_id = req.query("event_id")
    if not event_id:
        raise MissingParam("event_id is required")
    return event_id


def _int_param(value: Any, name: str, default: int) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidParam(f"{name} must be an integer") from None


async def get_event(req: ApiRequest) -> dict[str, Any]:
    result: dict[str, Any] = await req.hs.federation_reads.get_event(
        req.origin, req.path("eventId")
    )
    return result


async def get_state(req: ApiRequest) -> dict[str, Any]:
    result: dict[str, Any] = await req.hs.federation_reads.state(
        req.origin, req.path("roomId"), _event_id_param(req)
    )
    return result


async def get_state_ids(req: ApiRequest) -> dict[str, Any]:
    state_ids, chain_ids = await req.hs.federation_reads.state_ids(
        req.origin, req.path("roomId"), _event_id_param(req)
    )
    return {"pdu_ids": state_ids, "auth_chain_ids": chain_ids}


async def get_event_auth(req: ApiRequest) -> dict[str, Any]:
    result: dict[str, Any] = await req.hs.federation_reads.event_auth(
        req.origin, req.path("roomId"), req.path("eventId")
    )
    return result


async def get_missing_events(req: ApiRequest) -> dict[str, Any]:
    body = await req.body()
    latest = body.str_list("latest_events")
    if not latest:
        raise MissingParam("latest_events is required")
    earliest = body.str_list("earliest_events")
    result: dict[str, Any] = await req.hs.federation_reads.get_missing_events(
        req.origin,
        req.path("roomId"),
        earliest=earliest,
        latest=latest,
        limit=_int_param(body.data.get("limit"), "limit", 10),
        min_depth=_int_param(body.data.get("min_depth"), "min_depth", 0),
    )
    return result


async def get_backfill(req: ApiRequest) -> dict[str, Any]:
    from_ids = req.http.query.getall("v", [])
    if not from_ids:
        raise MissingParam("v is required")
    limit = _int_param(req.query("limit"), "limit", 10)
    result: dict[str, Any] = await req.hs.federation_reads.backfill(
        req.origin, req.path("roomId"), list(from_ids), limit
    )
    return result


def routes(hs: object) -> list[Route]:
    return [
        Route("GET", (V1 + "/event/{eventId}",), get_event, federation=True),
        Route("GET", (V1 + "/state/{roomId}",), get_state, federation=True),
        Route("GET", (V1 + "/state_ids/{roomId}",), get_state_ids, federation=True),
        Route("GET", (V1 + "/event_auth/{roomId}/{eventId}",), get_event_auth, federation=True),
        Route("POST", (V1 + "/get_missing_events/{roomId}",), get_missing_events, federation=True),
        Route("GET", (V1 + "/backfill/{roomId}",), get_backfill, federation=True),
    ]
