"""Redacting events (client-server API "Redactions"):
``PUT /rooms/{roomId}/redact/{eventId}/{txnId}``, idempotent per transaction ID.

The redaction is an ``m.room.redaction`` event through the normal pipeline, so the room
version's authorization rules decide (v1–v2 rule 11); whether it takes effect on what is served
is decided by ``transom.services.rooms.redaction`` (v3+ "Handling redactions").
"""

from __future__ import annotations

from typing import Any

from transom.api.routing import ApiRequest, Route, client_paths
from transom.services.rooms.events import EventDraft


async def redact(req: ApiRequest) -> dict[str, Any]:
    body = await req.body()
    content: dict[str, Any] = {}
    reason = body.opt_str("reason")
    if reason is not None:
        content["reason"] = reason
    requester = req.requester
    txn = (requester.user_id, requester.device_id or "", "redact/" + req.path("txnId"))
    event = await req.hs.rooms.creator.send(
        req.path("roomId"),
        EventDraft(requester.user_id, "m.room.redaction", content, redacts=req.path("eventId")),
        txn=txn,
    )
    return {"event_id": event.event_id}


def routes(hs: object) -> list[Route]:
    return [
        Route("PUT", client_paths("/rooms/{roomId}/redact/{eventId}/{txnId}"), redact,
              auth=True, ratelimit="message"),
    ]  # fmt: skip
