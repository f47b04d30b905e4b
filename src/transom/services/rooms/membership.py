"""Membership changes of local users in rooms this server is in (client-server API "Room
membership": join, invite, leave, kick, ban, unban; and knock, room versions 7+).

Every change is an ``m.room.member`` event built and authorised by the event pipeline, so the
room version's authorization rules decide; this module adds what the client-server API asks
beyond them (profile fields in the content, the ``reason``, clear errors).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from transom.core.events import Event, JsonDict
from transom.services.errors import Forbidden, NotFound
from transom.services.rooms.events import EventCreator, EventDraft
from transom.storage.profiles import ProfileStore
from transom.storage.state import StateStore

# Called before a membership change is written; may raise to refuse it (rate limits, ...).
MembershipHook = Callable[[str, str, str, str], Awaitable[None]]


class MembershipService:
    def __init__(
        self,
        creator: EventCreator,
        state: StateStore,
        profiles: ProfileStore,
        *,
        server_name: str,
    ) -> None:
        self.creator = creator
        self.state = state
        self.profiles = profiles
        self.server_name = server_name

    def is_local(self, user_id: str) -> bool:
        return user_id.endswith(":" + self.server_name)

    async def profile_content(self, user_id: str) -> JsonDict:
        """``displayname``/``avatar_url`` for a member event (client-server API "Profiles":
        profile changes are reflected in member events). Defaults the display name to the
        localpart for local users with no profile yet."""
        if not self.is_local(user_id):
            return {}
        profile = await self.profiles.get_profile(user_id)
        if profile is None:
            return {"displayname": user_id[1:].split(":", 1)[0]}
        return dict(profile)

    async def change(
        self,
        sender: str,
        room_id: str,
        target: str,
        membership: str,
        *,
        reason: str | None = None,
        extra: JsonDict | None = None,
        txn: tuple[str, str, str] | None = None,
    ) -> Event:
        """Write ``target``'s membership as ``membership``, sent by ``sender``."""
        if await self.creator.rooms.get_room_version(room_id) is None:
            raise NotFound("Unknown room")
        content: dict[str, Any] = {"membership": membership}
        if membership in ("join", "knock") and sender == target:
            content.update(await self.profile_content(sender))
        elif membership == "invite":
            content.update(await self.profile_content(target))
        if extra:
            content.update(extra)
        if reason is not None:
            content["reason"] = reason
        return await self.creator.send(
            room_id, EventDraft(sender, "m.room.member", content, target), txn=txn
        )

    async def membership_of(self, room_id: str, user_id: str) -> str | None:
        """A user's current membership of a room, from its current state."""
        event_id = await self.state.get_current_state_event_id(room_id, "m.room.member", user_id)
        if event_id is None:
            return None
        event = await self.creator.events.get_event(event_id)
        return event.membership if event is not None else None

    async def require_joined(self, room_id: str, user_id: str) -> None:
        if await self.membership_of(room_id, user_id) != "join":
            raise Forbidden(f"{user_id} is not in room {room_id}")
