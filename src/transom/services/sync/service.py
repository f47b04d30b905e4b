"""``GET /sync`` (client-server API "Syncing"): builds initial and incremental responses and
long-polls for changes.

A response covers the global stream up to ``now`` (read once at the start of the build), so
consecutive ``since`` tokens see every event exactly once. Memberships changed after ``now``
are left for the next sync. Room versions: all.
"""

from __future__ import annotations

import asyncio
from typing import Any

from transom.core.events import JsonDict
from transom.services.filtering import Filter
from transom.services.sync.context import Loader, SyncRequest
from transom.services.sync.extras import Extras
from transom.services.sync.joined import build_joined
from transom.services.sync.left import build_left
from transom.services.sync.notifier import Notifier
from transom.services.sync.stripped import build_stripped
from transom.services.sync.tokens import SyncToken
from transom.storage.events import LruCache
from transom.storage.sync import SyncQueries

# Spec "Syncing": servers may cap ``timeout``; clients usually ask for 30 s.
MAX_TIMEOUT_MS = 5 * 60 * 1000


class SyncService:
    def __init__(self, hs: Any) -> None:
        self.hs = hs
        self.rooms = hs.rooms
        self.notifier = Notifier()
        self.loader = Loader(hs.rooms, SyncQueries(hs.store.db, hs.rooms.streams))
        self.extras = Extras(hs)
        # (user, device) -> room -> member user -> member event ID the device holds.
        self._lazy: LruCache[tuple[str, str | None], dict[str, dict[str, str]]] = LruCache(10_000)
        self._typing_hooked = False

    def setup(self) -> None:
        """Wake long polls on every stream advance and typing change."""
        self.rooms.streams.on_advance(self.notifier.notify)
        self.hook_typing()

    def hook_typing(self) -> None:
        typing = getattr(self.hs, "typing", None)
        if typing is not None and not self._typing_hooked and hasattr(typing, "on_change"):
            typing.on_change(self.notifier.notify)
            self._typing_hooked = True

    async def sync(
        self,
        user_id: str,
        device_id: str | None,
        *,
        since: SyncToken | None,
        sync_filter: Filter,
        full_state: bool = False,
        timeout_ms: int = 0,
        use_state_after: bool = False,
    ) -> JsonDict:
        """One ``/sync`` response; waits up to ``timeout_ms`` for something new when the
        incremental response would be empty."""
        self.hook_typing()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(max(timeout_ms, 0), MAX_TIMEOUT_MS) / 1000
        while True:
            seen = self.notifier.version
            response, empty = await self.build(
                user_id, device_id, since, sync_filter, full_state, use_state_after
            )
            if since is None or full_state or not empty:
                return response
            remaining = deadline - loop.time()
            if remaining <= 0 or not await self.notifier.wait(seen, remaining):
                return response
            # Nothing for this user up to the response's token: carry on from there.
            since = SyncToken.parse(response["next_batch"])

    async def build(
        self,
        user_id: str,
        device_id: str | None,
        since: SyncToken | None,
        sync_filter: Filter,
        full_state: bool,
        use_state_after: bool,
    ) -> tuple[JsonDict, bool]:
        """The response and whether it carries nothing new."""
        typing_serial = self.extras.typing_serial
        now = self.rooms.streams.current
        lazy_key = (user_id, device_id)
        sent_members = self._lazy.get(lazy_key) if since is not None else None
        request = SyncRequest(
            user_id=user_id,
            device_id=device_id,
            since=since,
            now=now,
            typing_serial=typing_serial,
            filter=sync_filter,
            full_state=full_state,
            use_state_after=use_state_after,
            sent_members=sent_members if sent_members is not None else {},
        )
        room_filter = sync_filter.room
        memberships = [
            m
            for m in await self.rooms.state.get_local_memberships(user_id)
            if m.stream_ordering <= now and room_filter.allows_room(m.room_id)
        ]
        since_stream = request.since_stream

        def changed(m: Any) -> bool:
            return since_stream is None or m.stream_ordering > since_stream

        global_data, room_data = await self.extras.account_data(user_id, since_stream or 0)
        joined = [m for m in memberships if m.membership == "join"]
        invited = [m for m in memberships if m.membership == "invite" and changed(m)]
        knocked = [m for m in memberships if m.membership == "knock" and changed(m)]
        left = [
            m
            for m in memberships
            if m.membership in ("leave", "ban")
            and not m.forgotten
            and (m.stream_ordering > since_stream if since_stream is not None
                 else room_filter.include_leave)
        ]  # fmt: skip
        extra_types = tuple(getattr(self.hs.config, "stripped_state_extra_types", ()) or ())
        rooms: JsonDict = {
            "join": await build_joined(self.loader, self.extras, request, joined, room_data),
            "invite": {
                room_id: {"invite_state": {"events": events}}
                for room_id, events in (
                    await build_stripped(self.loader, invited, extra_types)
                ).items()
            },
            "knock": {
                room_id: {"knock_state": {"events": events}}
                for room_id, events in (
                    await build_stripped(self.loader, knocked, extra_types)
                ).items()
            },
            "leave": await build_left(self.loader, request, left, room_data),
        }
        self._lazy.put(lazy_key, request.sent_members)
        ad_filter = sync_filter.account_data
        account_data = [
            {"type": t, "content": c}
            for t, c in global_data.items()
            if ad_filter.matches({"type": t, "sender": user_id})
        ]
        response: JsonDict = {
            "next_batch": str(SyncToken(now, typing_serial)),
            "rooms": rooms,
            "account_data": {"events": account_data},
            "presence": {"events": []},
            "to_device": {"events": []},
            "device_lists": {"changed": [], "left": []},
            "device_one_time_keys_count": {},
        }
        empty = not account_data and not any(rooms.values())
        return response, empty
