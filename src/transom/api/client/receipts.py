"""Receipts and read markers (client-server API, "Receipts" and "Fully read markers"):
``POST /rooms/{roomId}/receipt/{receiptType}/{eventId}`` and ``POST /rooms/{roomId}/read_markers``.

``m.fully_read`` is room account data the server maintains; the receipt endpoint accepts it as an
alternative to ``/read_markers`` ("this endpoint effectively calls /read_markers internally").
Not room-versioned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from transom.api.routing import ApiRequest, Route, client_paths
from transom.services.errors import Forbidden, InvalidParam, NotFound

if TYPE_CHECKING:
    from transom.app import HomeServer

FULLY_READ = "m.fully_read"
RECEIPT_KEYS = ("m.read", "m.read.private")


async def _set_fully_read(req: ApiRequest, room_id: str, event_id: str) -> None:
    """ "Fully read markers": the m.fully_read room account data; "The event MUST belong to the
    room"."""
    user_id = req.requester.user_id
    if await req.hs.rooms.membership.membership_of(room_id, user_id) != "join":
        raise Forbidden(f"{user_id} is not in room {room_id}")
    event = await req.hs.rooms.events.get_event(event_id)
    if event is None or event.room_id != room_id:
        raise NotFound(f"Event {event_id} is not in room {room_id}")
    await req.hs.account_data.set(user_id, FULLY_READ, {"event_id": event_id}, room_id, server=True)


async def post_receipt(req: ApiRequest) -> dict[str, Any]:
    room_id, receipt_type = req.path("roomId"), req.path("receiptType")
    event_id = req.path("eventId")
    thread_id = (await req.body()).raw("thread_id")
    if thread_id is not None and (not isinstance(thread_id, str) or not thread_id):
        raise InvalidParam("thread_id field must be a non-empty string")
    if receipt_type == FULLY_READ:
        if thread_id is not None:
            # 400 when the thread_id "is provided for an incompatible receipt type".
            raise InvalidParam("thread_id is not allowed for m.fully_read")
        await _set_fully_read(req, room_id, event_id)
        return {}
    if receipt_type not in RECEIPT_KEYS:
        raise InvalidParam(f"Unknown receipt type {receipt_type!r}")
    await req.hs.receipts.set_receipt(
        req.requester.user_id, room_id, receipt_type, event_id, thread_id
    )
    return {}


async def read_markers(req: ApiRequest) -> dict[str, Any]:
    room_id = req.path("roomId")
    body = await req.body()
    fully_read = body.opt_str(FULLY_READ)
    if fully_read is not None:
        await _set_fully_read(req, room_id, fully_read)
    for receipt_type in RECEIPT_KEYS:
        event_id = body.opt_str(receipt_type)
        if event_id is not None:
            await req.hs.receipts.set_receipt(
                req.requester.user_id, room_id, receipt_type, event_id
            )
    return {}


def routes(hs: HomeServer) -> list[Route]:
    return [
        Route(
            "POST",
            client_paths("/rooms/{roomId}/receipt/{receiptType}/{eventId}"),
            post_receipt,
            auth=True,
        ),
        Route("POST", client_paths("/rooms/{roomId}/read_markers"), read_markers, auth=True),
    ]
