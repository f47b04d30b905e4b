"""Account data (client-server API, "Client Config"): per-user JSON by type, global or per room,
delivered to the user's clients through ``/sync``.

``m.fully_read`` (room) and ``m.push_rules`` (global) are maintained by the server (read markers
and the push rules API); clients cannot set them here (405 ``M_BAD_JSON``), but the server writes
them with ``set(..., server=True)``. Every write takes a position of the one global stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from transom.core.errors import MatrixProtocolError
from transom.storage.account_data import AccountDataStore
from transom.storage.database import Connection
from transom.storage.events import LruCache
from transom.storage.persist import StreamAllocator

JsonDict = dict[str, Any]

# "Client Config" → PUT account data: 405 "This type of account data is controlled by the
# server; it cannot be modified by clients." (m.fully_read per room, m.push_rules globally).
SERVER_CONTROLLED_GLOBAL = frozenset({"m.push_rules"})
SERVER_CONTROLLED_ROOM = frozenset({"m.fully_read"})


class ServerControlled(MatrixProtocolError):
    """405 M_BAD_JSON: the type is maintained by the server."""

    errcode = "M_BAD_JSON"
    http_status = 405


class AccountDataService:
    def __init__(self, store: AccountDataStore, streams: StreamAllocator) -> None:
        self.store = store
        self.streams = streams
        # Global types with a value even before the user wrote one (e.g. m.push_rules): served
        # by ``get`` and by ``changes`` from the start of the stream.
        self.defaults: dict[str, Callable[[str], JsonDict]] = {}
        # (type, user ID) -> the default ``changes`` served (callers must not modify it).
        self._served_defaults: LruCache[tuple[str, str], JsonDict] = LruCache(1_000)

    async def get(
        self, user_id: str, data_type: str, room_id: str | None = None
    ) -> JsonDict | None:
        content = await self.store.get(user_id, data_type, room_id)
        if content is None and room_id is None and data_type in self.defaults:
            return self.defaults[data_type](user_id)
        return content

    async def set(
        self,
        user_id: str,
        data_type: str,
        content: JsonDict,
        room_id: str | None = None,
        *,
        server: bool = False,
    ) -> int:
        """Store one entry; returns its stream position. ``server`` allows the server-controlled
        types."""
        controlled = SERVER_CONTROLLED_ROOM if room_id else SERVER_CONTROLLED_GLOBAL
        if not server and data_type in controlled:
            raise ServerControlled(f"Cannot set {data_type} through this API.")

        async def write(conn: Connection, positions: list[int]) -> None:
            await self.store.put(conn, user_id, room_id, data_type, content, positions[0])

        _, positions = await self.streams.write(1, write)
        return positions[0]

    async def changes(
        self, user_id: str, after_stream: int
    ) -> tuple[dict[str, JsonDict], dict[str, dict[str, JsonDict]]]:
        """What changed after ``after_stream``: (global type -> content, room -> type -> content).

        From the start of the stream (``after_stream`` 0) server defaults are included; those
        are shared between calls, so callers must not modify the contents."""
        global_data, rooms = await self.store.changes(user_id, after_stream)
        if after_stream <= 0:
            for data_type, default in self.defaults.items():
                if data_type not in global_data:
                    # Built once per user and shared by every initial sync (read-only).
                    content = self._served_defaults.get((data_type, user_id))
                    if content is None:
                        content = default(user_id)
                        self._served_defaults.put((data_type, user_id), content)
                    global_data[data_type] = content
        return global_data, rooms
