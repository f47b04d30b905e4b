"""Fetching events this server lacks from the server that sent an event.

Spec: server-server API "Backfilling and retrieving missing events" (``POST
/get_missing_events/{roomId}``), "Retrieving events" (``GET /event/{eventId}``, ``GET
/state_ids/{roomId}``), "Retrieving event authorisation information" (``GET
/event_auth/{roomId}/{eventId}``). All room versions.

Everything returned here is raw PDU JSON checked only for shape; the caller runs every PDU
through the receipt checks (format, signatures, hashes) before trusting it. A peer that fails or
answers nonsense yields nothing rather than an exception: the caller then treats the events as
missing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from transom.core.events import JsonDict

logger = logging.getLogger(__name__)

FEDERATION_V1 = "/_matrix/federation/v1"
# "get_missing_events": `limit` defaults to 10; we ask for that many.
MISSING_EVENTS_LIMIT = 10
# At most this many /event requests in flight for one fill.
FETCH_CONCURRENCY = 5


@dataclass(frozen=True, slots=True)
class RemoteState:
    """A peer's answer to ``/state_ids``: the state before an event, and its auth chain."""

    state_ids: list[str]
    auth_chain_ids: list[str]


def _path(*parts: str) -> str:
    return FEDERATION_V1 + "".join("/" + quote(p, safe="") for p in parts)


def _pdu_list(body: Any, key: str) -> list[JsonDict]:
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, list):
        return []
    return [p for p in value if isinstance(p, dict)]


def _id_list(body: Any, key: str) -> list[str]:
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, list):
        return []
    return [i for i in value if isinstance(i, str)]


class RemoteEvents:
    """Reads events from a peer through ``hs.federation_client``."""

    def __init__(self, client_getter: Any) -> None:
        # A callable returning the federation client (it may be wired after this object).
        self._client_getter = client_getter

    @property
    def client(self) -> Any:
        return self._client_getter()

    async def _call(self, method: str, destination: str, path: str, **kwargs: Any) -> Any:
        client = self.client
        if client is None:
            return None
        try:
            return await getattr(client, method)(destination, path, **kwargs)
        except Exception as exc:  # FederationError, FederationUnreachable, bad JSON, ...
            logger.info("%s %s on %s failed: %s", method, path, destination, exc)
            return None

    async def get_missing_events(
        self,
        destination: str,
        room_id: str,
        *,
        earliest_events: Sequence[str],
        latest_events: Sequence[str],
        min_depth: int,
        limit: int = MISSING_EVENTS_LIMIT,
    ) -> list[JsonDict]:
        """``POST /get_missing_events``: events between our extremities and ``latest_events``."""
        body = {
            "earliest_events": list(earliest_events),
            "latest_events": list(latest_events),
            "limit": limit,
            "min_depth": min_depth,
        }
        answer = await self._call("post_json", destination, _path("get_missing_events", room_id),
                                  body=body)  # fmt: skip
        return _pdu_list(answer, "events")

    async def get_event(self, destination: str, event_id: str) -> JsonDict | None:
        """``GET /event/{eventId}``: a transaction holding the one PDU."""
        answer = await self._call("get_json", destination, _path("event", event_id))
        pdus = _pdu_list(answer, "pdus")
        return pdus[0] if pdus else None

    async def get_events(self, destination: str, event_ids: Sequence[str]) -> list[JsonDict]:
        """Several ``/event`` requests, a few at a time; the ones that fail are left out."""
        semaphore = asyncio.Semaphore(FETCH_CONCURRENCY)

        async def one(event_id: str) -> JsonDict | None:
            async with semaphore:
                return await self.get_event(destination, event_id)

        found = await asyncio.gather(*(one(e) for e in event_ids))
        return [pdu for pdu in found if pdu is not None]

    async def get_state_ids(
        self, destination: str, room_id: str, event_id: str
    ) -> RemoteState | None:
        """``GET /state_ids/{roomId}?event_id=``: the state before ``event_id``."""
        answer = await self._call("get_json", destination, _path("state_ids", room_id),
                                  query={"event_id": event_id})  # fmt: skip
        if not isinstance(answer, dict) or not isinstance(answer.get("pdu_ids"), list):
            return None
        return RemoteState(_id_list(answer, "pdu_ids"), _id_list(answer, "auth_chain_ids"))

    async def get_event_auth(self, destination: str, room_id: str, event_id: str) -> list[JsonDict]:
        """``GET /event_auth/{roomId}/{eventId}``: the full auth chain of an event."""
        answer = await self._call("get_json", destination, _path("event_auth", room_id, event_id))
        return _pdu_list(answer, "auth_chain")

    async def backfill(
        self, destination: str, room_id: str, from_ids: Sequence[str], limit: int
    ) -> list[JsonDict]:
        """``GET /backfill/{roomId}?v=...&limit=``."""
        answer = await self._call("get_json", destination, _path("backfill", room_id),
                                  query={"v": list(from_ids), "limit": str(limit)})  # fmt: skip
        return _pdu_list(answer, "pdus")
