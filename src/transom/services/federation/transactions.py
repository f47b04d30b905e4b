"""Inbound federation transactions: ``PUT /_matrix/federation/v1/send/{txnId}``.

Spec: server-server API "Transactions" (at most 50 PDUs and 100 EDUs; the response maps each
PDU's event ID to ``{}`` or ``{"error": ...}``; a rejected PDU never makes the request fail),
"EDUs", "Typing Notifications", "Receipts" and "Server Access Control Lists" (ACLs apply per PDU
and per room-scoped EDU). All room versions.

Transactions are deduplicated by ``(origin, txn_id)``: a retry gets the stored answer. PDUs of
one room are processed one after another in the order received (oldest first by depth); rooms
are processed in parallel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from transom.core.errors import MatrixProtocolError
from transom.core.events import JsonDict
from transom.core.hashing import compute_event_id
from transom.core.room_versions import get_room_version
from transom.services.errors import BadJson, Forbidden, NotFound
from transom.storage.federation_inbound import InboundTransactionStore

if TYPE_CHECKING:
    from transom.app import HomeServer
    from transom.services.federation.events import FederationEventHandler

logger = logging.getLogger(__name__)

# "Transactions": at most 50 PDUs and 100 EDUs.
MAX_PDUS = 50
MAX_EDUS = 100
# The ID format used to name a PDU of a room we do not know in the response (v4+, the default).
_FALLBACK_VERSION = get_room_version("10")


def parse_transaction(body: Mapping[str, Any]) -> tuple[list[Any], list[Any]]:
    """``pdus`` and ``edus`` of a transaction body; ``BadJson`` (400) if malformed."""
    pdus = body.get("pdus")
    edus = body.get("edus", [])
    if not isinstance(pdus, list):
        raise BadJson("pdus must be a list")
    if edus is None:
        edus = []
    if not isinstance(edus, list):
        raise BadJson("edus must be a list")
    if len(pdus) > MAX_PDUS:
        raise BadJson(f"A transaction holds at most {MAX_PDUS} PDUs")
    if len(edus) > MAX_EDUS:
        raise BadJson(f"A transaction holds at most {MAX_EDUS} EDUs")
    return pdus, edus


class TransactionHandler:
    """``hs.federation_transactions``."""

    def __init__(self, hs: HomeServer, events: FederationEventHandler) -> None:
        self.hs = hs
        self.events = events
        self.store = InboundTransactionStore(hs.store.db)
        self._inflight: dict[tuple[str, str], asyncio.Future[JsonDict]] = {}
        # (origin, PDU) -> (handled, error): member events about our users' out-of-band
        # memberships in rooms we are not in (a rejected knock); set by the composition root.
        self.out_of_room: Callable[[str, Any], Awaitable[tuple[bool, str | None]]] | None = None

    async def on_send(self, origin: str, txn_id: str, body: Mapping[str, Any]) -> JsonDict:
        pdus, edus = parse_transaction(body)
        key = (origin, txn_id)
        running = self._inflight.get(key)
        if running is not None:
            return await asyncio.shield(running)
        stored = await self.store.get_response(origin, txn_id)
        if stored is not None:
            return stored
        future: asyncio.Future[JsonDict] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            response = await self._process(origin, pdus, edus)
            await self.store.set_response(origin, txn_id, response, self.hs.clock.time_msec())
            future.set_result(response)
            return response
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        finally:
            del self._inflight[key]

    async def _process(self, origin: str, pdus: list[Any], edus: list[Any]) -> JsonDict:
        results: dict[str, JsonDict] = {}
        by_room: dict[str, list[tuple[str, Any]]] = {}
        for pdu in pdus:
            event_id = await self._event_id_of(pdu)
            if event_id is None:
                logger.info("Dropping a PDU from %s without a computable event ID", origin)
                continue
            room_id = pdu.get("room_id") if isinstance(pdu, dict) else None
            by_room.setdefault(str(room_id), []).append((event_id, pdu))

        async def room_worker(items: list[tuple[str, Any]]) -> None:
            items.sort(key=lambda item: _depth_of(item[1]))
            for event_id, pdu in items:
                handled, error = False, None
                if self.out_of_room is not None:
                    handled, error = await self.out_of_room(origin, pdu)
                if not handled:
                    error = await self.events.receive_pdu(origin, pdu)
                results[event_id] = {} if error is None else {"error": error}

        await asyncio.gather(*(room_worker(items) for items in by_room.values()))
        for edu in edus:
            try:
                await self._on_edu(origin, edu)
            except Exception:
                logger.exception("Failed to process an EDU from %s", origin)
        return {"pdus": results}

    async def _event_id_of(self, pdu: Any) -> str | None:
        if not isinstance(pdu, dict):
            return None
        room_id = pdu.get("room_id")
        room_version = None
        if isinstance(room_id, str):
            room_version = await self.hs.rooms.rooms.get_room_version(room_id)
        try:
            return compute_event_id(pdu, room_version or _FALLBACK_VERSION)
        except Exception:
            return None

    # EDUs -------------------------------------------------------------------------------------

    async def _on_edu(self, origin: str, edu: Any) -> None:
        if not isinstance(edu, dict) or not isinstance(edu.get("content"), dict):
            return
        kind = edu.get("edu_type")
        if kind == "m.typing":
            await self._on_typing(origin, edu["content"])
        elif kind == "m.receipt":
            await self._on_receipts(origin, edu["content"])
        # Other EDU types (presence, device lists, to-device, ...) are ignored.

    async def _on_typing(self, origin: str, content: JsonDict) -> None:
        """ "Typing Notifications": the user must belong to the origin and be in the room."""
        room_id, user_id, typing = (content.get(k) for k in ("room_id", "user_id", "typing"))
        if not (isinstance(room_id, str) and isinstance(user_id, str)):
            return
        if not isinstance(typing, bool) or _server_of(user_id) != origin:
            return
        if not await self.events.server_allowed(origin, room_id):
            return
        typing_service = getattr(self.hs, "typing", None)
        if typing_service is None:
            return
        try:
            await typing_service.set_typing(user_id, room_id, typing, None)
        except (Forbidden, NotFound):
            logger.info("Ignoring typing of %s in %s: not joined", user_id, room_id)

    async def _on_receipts(self, origin: str, content: JsonDict) -> None:
        """ "Receipts": room ID → receipt type → user ID → ``{event_ids, data}``."""
        receipts = getattr(self.hs, "receipts", None)
        if receipts is None:
            return
        for room_id, by_type in content.items():
            if not isinstance(by_type, dict):
                continue
            if not await self.events.server_allowed(origin, room_id):
                continue  # "all receipts for a particular room ID MUST be ignored"
            by_user = by_type.get("m.read")
            if not isinstance(by_user, dict):
                continue
            for user_id, receipt in by_user.items():
                if _server_of(user_id) != origin or not isinstance(receipt, dict):
                    continue
                event_ids = receipt.get("event_ids")
                data = receipt.get("data")
                thread_id = data.get("thread_id") if isinstance(data, dict) else None
                if not isinstance(event_ids, list):
                    continue
                for event_id in event_ids:
                    if not isinstance(event_id, str):
                        continue
                    try:
                        await receipts.set_receipt(
                            user_id, room_id, "m.read", event_id,
                            thread_id if isinstance(thread_id, str) else None,
                        )  # fmt: skip
                    except MatrixProtocolError as exc:
                        logger.info("Ignoring a receipt of %s: %s", user_id, exc.message)


def _depth_of(pdu: Any) -> int:
    depth = pdu.get("depth") if isinstance(pdu, dict) else None
    return depth if isinstance(depth, int) else 0


def _server_of(user_id: str) -> str:
    return user_id.partition(":")[2]
