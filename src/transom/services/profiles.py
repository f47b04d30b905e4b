"""Users' profiles (client-server API "Profiles", profile.yaml).

Reads: 404 ``M_NOT_FOUND`` for unknown local users; a remote user's profile is asked of their
server (server-server API "Querying for information", ``/query/profile``) through ``remote``.
Writes: only the user's own ``displayname`` and ``avatar_url``. "Events on change of profile
information": after a change the server sends an updated ``m.room.member`` join event into
every room the user is joined to; that happens in a background task so that the PUT answers at
once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from transom.services.errors import BadJson, Forbidden, InvalidParam, NotFound
from transom.services.rooms.service import RoomService
from transom.storage.profiles import ProfileStore

logger = logging.getLogger(__name__)

FIELDS = ("displayname", "avatar_url")
# Size limits (servers "MAY impose size limits on individual fields"); Synapse's values.
MAX_LENGTH = {"displayname": 256, "avatar_url": 1000}


class ProfileService:
    def __init__(
        self,
        store: ProfileStore,
        rooms: RoomService,
        get_user: Callable[[str], Awaitable[object | None]],
    ) -> None:
        self.store = store
        self.rooms = rooms
        self.get_user = get_user
        self._tasks: set[asyncio.Task[None]] = set()
        # Federation's profile query (``FederationQueries.remote_profile``), wired by the root.
        self.remote: Callable[[str], Awaitable[dict[str, str]]] | None = None

    async def get_profile(self, user_id: str) -> dict[str, str]:
        if not self.rooms.is_local_user(user_id) and self.remote is not None:
            return await self.remote(user_id)
        if not self.rooms.is_local_user(user_id) or await self.get_user(user_id) is None:
            raise NotFound("Profile not found")
        return dict(await self.rooms.membership.profile_content(user_id))

    async def get_field(self, user_id: str, field: str) -> dict[str, str]:
        profile = await self.get_profile(user_id)
        if field not in profile:
            raise NotFound(f"The user has no {field}")
        return {field: profile[field]}

    async def set_field(self, requester: str, user_id: str, field: str, value: Any) -> None:
        if field not in FIELDS:
            raise InvalidParam(f"Profile field {field!r} is not supported")
        if requester != user_id:
            raise Forbidden("You may only change your own profile")
        if not self.rooms.is_local_user(user_id) or await self.get_user(user_id) is None:
            raise NotFound("Profile not found")
        if value is not None and not isinstance(value, str):
            raise BadJson(f"{field} must be a string")
        if isinstance(value, str) and len(value) > MAX_LENGTH[field]:
            raise BadJson(f"{field} is too long (at most {MAX_LENGTH[field]} characters)")
        if field == "avatar_url" and value and not value.startswith("mxc://"):
            # profile.yaml: "For avatar_url, the value MUST be an MXC URI string."
            raise BadJson("avatar_url must be an mxc:// URI")
        current = await self.store.get_profile(user_id)
        if current is None and field != "displayname":
            # Keep the default display name (the localpart) when a profile row first appears.
            await self.store.set_field(user_id, "displayname", user_id[1:].split(":", 1)[0])
        await self.store.set_field(user_id, field, value or None)
        task = asyncio.create_task(self._update_rooms(user_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _update_rooms(self, user_id: str) -> None:
        """A new join event (carrying the new profile) in every room the user is joined to."""
        joined = await self.rooms.state.get_local_memberships(user_id, ["join"])
        for membership in joined:
            try:
                await self.rooms.membership.change(user_id, membership.room_id, user_id, "join")
            except Exception:
                logger.exception(
                    "could not update %s's member event in %s", user_id, membership.room_id
                )

    async def wait_idle(self) -> None:
        """Wait for pending member-event updates (shutdown and tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
